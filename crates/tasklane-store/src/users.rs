//! The user repository: one statement per method; email uniqueness is the unique index on the
//! lower-cased email, so a concurrent duplicate is caught by the database, not a prior read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{User, UserCredentials, UserSummary};
use tasklane_domain::ports::{CreateUserStoreError, NewUser, ProfileChange, UserRepository};
use tasklane_domain::values::Email;
use uuid::Uuid;

use crate::Store;
use crate::convert;
use crate::db::{exec, in_transaction, one};
use crate::errors::{Constraint, Fail, repo_error, violates};

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
        row.map(|row| credentials(&d.row(&row))).transpose()
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn get_credentials(&self, id: UserId) -> Result<Option<UserCredentials>, RepoError> {
        let d = self.dialect;
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1");
        let row = one(&self.reader, d.stmt(&sql, vec![d.id(id)]))
            .await
            .map_err(repo_error)?;
        row.map(|row| credentials(&d.row(&row))).transpose()
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn update_profile(
        &self,
        id: UserId,
        change: ProfileChange,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepoError> {
        let d = self.dialect;
        let sql = format!(
            "UPDATE users SET display_name = COALESCE($2, display_name), \
             avatar_url = CASE WHEN $3 THEN $4 ELSE avatar_url END, updated_at = $5 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let avatar = change
            .avatar_url
            .as_ref()
            .map(|a| a.as_ref().map(|a| a.as_str().to_owned()));
        let values = vec![
            d.id(id),
            change.display_name.map(|n| n.as_str().to_owned()).into(),
            avatar.is_some().into(),
            avatar.flatten().into(),
            d.time(at),
        ];
        let row = one(&self.writer, d.stmt(&sql, values))
            .await
            .map_err(repo_error)?;
        row.map(|row| convert::user(&d.row(&row)).map_err(repo_error))
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn replace_password(
        &self,
        id: UserId,
        expected_hash: String,
        password_hash: String,
        keep_family: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<bool, Fail<()>> {
            let replace = d.stmt(
                "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
                vec![d.id(id), expected_hash.clone().into(), password_hash.clone().into(), d.time(at)],
            );
            if exec(txn, replace).await? == 0 {
                return Ok(false);
            }
            // A nil family is no family: without a session to keep, every one is revoked.
            let revoke = d.stmt(
                "UPDATE refresh_tokens SET revoked_at = $2 \
                 WHERE user_id = $1 AND revoked_at IS NULL AND family_id <> $3",
                vec![d.id(id), d.time(at), d.id(keep_family.unwrap_or(Uuid::nil()))],
            );
            exec(txn, revoke).await?;
            Ok(true)
        })
        .map_err(Fail::into_repo)
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

fn credentials(row: &crate::db::Row<'_>) -> Result<UserCredentials, RepoError> {
    Ok(UserCredentials {
        user: convert::user(row).map_err(repo_error)?,
        password_hash: row.text("password_hash").map_err(repo_error)?,
    })
}
