//! The user repository, on the `users` entity: one statement per method; email uniqueness is the
//! unique index on the lower-cased email, so a concurrent duplicate is caught by the database,
//! not a prior read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{User, UserCredentials, UserSummary};
use tasklane_domain::ports::{CreateUserStoreError, NewUser, ProfileChange, UserRepository};
use tasklane_domain::values::Email;
use uuid::Uuid;

use crate::Store;
use crate::convert;
use crate::db::in_transaction;
use crate::entities::{directory_version, refresh_tokens, users};
use crate::errors::{Constraint, Fail, repo_error, violates};

#[async_trait]
impl UserRepository for Store {
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    async fn create_user(&self, user: NewUser) -> Result<User, CreateUserStoreError> {
        use users::Column as C;
        let d = self.dialect;
        let insert = Query::insert()
            .into_table(users::Entity)
            .columns([
                C::Id,
                C::Email,
                C::EmailLower,
                C::DisplayName,
                C::AvatarUrl,
                C::PasswordHash,
                C::CreatedAt,
                C::UpdatedAt,
            ])
            .values_panic([
                d.id(user.id).into(),
                user.email.as_str().into(),
                user.email.normalized().into(),
                user.display_name.as_str().into(),
                user.avatar_url
                    .as_ref()
                    .map(|a| a.as_str().to_owned())
                    .into(),
                user.password_hash.into(),
                d.time(user.created_at).into(),
                d.time(user.created_at).into(),
            ])
            .to_owned();
        match self.writer.execute(&insert).await {
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
        let found = self
            .find_user_row(users::Column::Id.eq(self.dialect.id(id)))
            .await?;
        found
            .map(convert::user_model)
            .transpose()
            .map_err(repo_error)
    }

    #[tracing::instrument(skip_all)]
    async fn find_credentials(&self, email: Email) -> Result<Option<UserCredentials>, RepoError> {
        let found = self
            .find_user_row(users::Column::EmailLower.eq(email.normalized()))
            .await?;
        found.map(credentials).transpose()
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn get_credentials(&self, id: UserId) -> Result<Option<UserCredentials>, RepoError> {
        let found = self
            .find_user_row(users::Column::Id.eq(self.dialect.id(id)))
            .await?;
        found.map(credentials).transpose()
    }

    #[tracing::instrument(skip_all, fields(%id))]
    async fn update_profile(
        &self,
        id: UserId,
        change: ProfileChange,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepoError> {
        use users::Column as C;
        let d = self.dialect;
        let mut update = users::Entity::update_many()
            .col_expr(C::UpdatedAt, Expr::val(d.time(at)))
            .filter(C::Id.eq(d.id(id)));
        if let Some(name) = change.display_name {
            update = update.col_expr(C::DisplayName, Expr::val(name.as_str()));
        }
        if let Some(avatar) = change.avatar_url {
            let avatar = avatar.map(|a| a.as_str().to_owned());
            update = update.col_expr(C::AvatarUrl, Expr::val(avatar));
        }
        let updated = in_transaction!(self.writer, |txn| -> Result<Vec<users::Model>, Fail<()>> {
            let updated = update.clone().exec_with_returning(txn).await?;
            if !updated.is_empty() {
                // Listings show names and avatars: their version moves with the directory's.
                directory_version::Entity::update_many()
                    .col_expr(
                        directory_version::Column::Version,
                        Expr::col(directory_version::Column::Version).add(1),
                    )
                    .exec(txn)
                    .await?;
            }
            Ok(updated)
        })
        .map_err(Fail::into_repo)?;
        updated
            .into_iter()
            .next()
            .map(convert::user_model)
            .transpose()
            .map_err(repo_error)
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
            let replaced = users::Entity::update_many()
                .col_expr(
                    users::Column::PasswordHash,
                    Expr::val(password_hash.clone()),
                )
                .col_expr(users::Column::UpdatedAt, Expr::val(d.time(at)))
                .filter(users::Column::Id.eq(d.id(id)))
                .filter(users::Column::PasswordHash.eq(expected_hash.clone()))
                .exec(txn)
                .await?;
            if replaced.rows_affected == 0 {
                return Ok(false);
            }
            // A nil family is no family: without a session to keep, every one is revoked.
            use refresh_tokens::Column as T;
            refresh_tokens::Entity::update_many()
                .col_expr(T::RevokedAt, Expr::val(d.time(at)))
                .filter(T::UserId.eq(d.id(id)))
                .filter(T::RevokedAt.is_null())
                .filter(T::FamilyId.ne(d.id(keep_family.unwrap_or(Uuid::nil()))))
                .exec(txn)
                .await?;
            Ok(true)
        })
        .map_err(Fail::into_repo)
    }

    async fn find_user_by_email(&self, email: Email) -> Result<Option<User>, RepoError> {
        let found = self
            .find_user_row(users::Column::EmailLower.eq(email.normalized()))
            .await?;
        found
            .map(convert::user_model)
            .transpose()
            .map_err(repo_error)
    }
}

impl Store {
    /// The user row `filter` matches, if any (every user read is one such `SELECT`).
    async fn find_user_row(&self, filter: Expr) -> Result<Option<users::Model>, RepoError> {
        users::Entity::find()
            .filter(filter)
            .one(&self.reader)
            .await
            .map_err(repo_error)
    }
}

fn credentials(model: users::Model) -> Result<UserCredentials, RepoError> {
    let password_hash = model.password_hash.clone();
    Ok(UserCredentials {
        user: convert::user_model(model).map_err(repo_error)?,
        password_hash,
    })
}
