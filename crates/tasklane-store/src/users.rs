//! The user repository: one statement per method; email uniqueness is the unique index on the
//! lower-cased email, so a concurrent duplicate is caught by the database, not a prior read.

use async_trait::async_trait;
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{User, UserCredentials, UserSummary};
use tasklane_domain::ports::{CreateUserStoreError, NewUser, UserRepository};
use tasklane_domain::values::Email;

use crate::Store;
use crate::convert;
use crate::db::{exec, one};
use crate::errors::{Constraint, repo_error, violates};

const USER_COLUMNS: &str = "id, email, display_name, avatar_url, created_at, updated_at";

#[async_trait]
impl UserRepository for Store {
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    async fn create_user(&self, user: NewUser) -> Result<User, CreateUserStoreError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "INSERT INTO users (id, email, email_lower, display_name, avatar_url, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            vec![
                d.id(user.id),
                user.email.as_str().into(),
                user.email.normalized().into(),
                user.display_name.as_str().into(),
                user.avatar_url.as_ref().map(|a| a.as_str().to_owned()).into(),
                user.password_hash.into(),
                d.time(user.created_at),
            ],
        );
        match exec(&self.writer, stmt).await {
            Ok(_) => Ok(User {
                summary: UserSummary {
                    id: user.id,
                    email: user.email,
                    display_name: user.display_name,
                    avatar_url: user.avatar_url,
                },
                created_at: user.created_at,
                updated_at: user.created_at,
            }),
            Err(error) if violates(&error, Constraint::UserEmail) => {
                Err(CreateUserStoreError::EmailTaken)
            }
            Err(error) => Err(CreateUserStoreError::Store(repo_error(error))),
        }
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn get_user(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let d = self.dialect;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = one(&self.reader, d.stmt(&sql, vec![d.id(id)]))
            .await
            .map_err(repo_error)?;
        row.map(|row| convert::user(&d.row(&row)))
            .transpose()
            .map_err(repo_error)
    }

    #[tracing::instrument(skip_all)]
    async fn find_credentials(&self, email: Email) -> Result<Option<UserCredentials>, RepoError> {
        let d = self.dialect;
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email_lower = $1");
        let row = one(&self.reader, d.stmt(&sql, vec![email.normalized().into()]))
            .await
            .map_err(repo_error)?;
        let Some(row) = row else { return Ok(None) };
        let row = d.row(&row);
        Ok(Some(UserCredentials {
            user: convert::user(&row).map_err(repo_error)?,
            password_hash: row.text("password_hash").map_err(repo_error)?,
        }))
    }

    async fn find_user_by_email(&self, email: Email) -> Result<Option<User>, RepoError> {
        let d = self.dialect;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_lower = $1");
        let row = one(&self.reader, d.stmt(&sql, vec![email.normalized().into()]))
            .await
            .map_err(repo_error)?;
        row.map(|row| convert::user(&d.row(&row)).map_err(repo_error))
            .transpose()
    }
}
