//! Refresh tokens and idempotency keys, on their entities. Both are decided by single
//! conditional statements, so two concurrent requests cannot both win: of two uses of one
//! refresh token only one `UPDATE … WHERE revoked_at IS NULL` changes a row; of two reservations
//! of one key only one `INSERT … ON CONFLICT DO NOTHING` inserts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{
    IdempotencyRepository, IdempotencyRequest, IdempotencyStart, NewRefreshToken,
    RefreshTokenRepository, Rotation,
};
use uuid::Uuid;

use crate::Store;
use crate::db::{Dialect, in_transaction};
use crate::entities::idempotency_keys::{self, Column as K};
use crate::entities::refresh_tokens::{self, Column as T};
use crate::errors::{Fail, repo_error};

/// The insert of one refresh token.
fn insert_token(
    d: Dialect,
    id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: String,
    expires_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(refresh_tokens::Entity)
        .columns([
            T::Id,
            T::UserId,
            T::FamilyId,
            T::TokenHash,
            T::ExpiresAt,
            T::CreatedAt,
        ])
        .values_panic([
            d.id(id).into(),
            d.id(user_id).into(),
            d.id(family_id).into(),
            token_hash.into(),
            d.time(expires_at).into(),
            d.time(at).into(),
        ])
        .to_owned()
}

#[async_trait]
impl RefreshTokenRepository for Store {
    async fn store_refresh_token(&self, token: NewRefreshToken) -> Result<(), RepoError> {
        let insert = insert_token(
            self.dialect,
            token.id,
            token.user_id.into(),
            token.family_id,
            token.token_hash,
            token.expires_at,
            token.created_at,
        );
        self.writer
            .execute(&insert)
            .await
            .map(drop)
            .map_err(repo_error)
    }

    async fn rotate_refresh_token(
        &self,
        presented: String,
        next_id: Uuid,
        next_hash: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Rotation, RepoError> {
        let d = self.dialect;
        in_transaction!(self.writer, |txn| -> Result<Rotation, Fail<()>> {
            let used = refresh_tokens::Entity::update_many()
                .col_expr(T::RevokedAt, Expr::val(d.time(at)))
                .filter(T::TokenHash.eq(presented.clone()))
                .filter(T::RevokedAt.is_null())
                .filter(T::ExpiresAt.gt(d.time(at)))
                .exec_with_returning(txn)
                .await?;
            if let Some(used) = used.into_iter().next() {
                let (user_id, family_id) = (used.user_id.0, used.family_id.0);
                let next = insert_token(
                    d,
                    next_id,
                    user_id,
                    family_id,
                    next_hash.clone(),
                    expires_at,
                    at,
                );
                txn.execute(&next).await?;
                return Ok(Rotation::Rotated {
                    user_id: UserId::from_uuid(user_id),
                    family_id,
                });
            }
            let known = refresh_tokens::Entity::find()
                .filter(T::TokenHash.eq(presented.clone()))
                .one(txn)
                .await?;
            match known {
                Some(token) if token.revoked_at.is_some() => {
                    // Used before: somebody holds a copy. End the whole session.
                    let family = token.family_id;
                    refresh_tokens::Entity::update_many()
                        .col_expr(T::RevokedAt, Expr::val(d.time(at)))
                        .filter(T::FamilyId.eq(d.id(family.0)))
                        .filter(T::RevokedAt.is_null())
                        .exec(txn)
                        .await?;
                    tracing::warn!(%family, "refresh token reused; its family is revoked");
                    Ok(Rotation::Reused)
                }
                _ => Ok(Rotation::Invalid),
            }
        })
        .map_err(Fail::into_repo)
    }

    async fn revoke_refresh_family(
        &self,
        presented: String,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let d = self.dialect;
        let family = Query::select()
            .column(T::FamilyId)
            .from(refresh_tokens::Entity)
            .and_where(T::TokenHash.eq(presented))
            .to_owned();
        refresh_tokens::Entity::update_many()
            .col_expr(T::RevokedAt, Expr::val(d.time(at)))
            .filter(T::RevokedAt.is_null())
            .filter(T::FamilyId.in_subquery(family))
            .exec(&self.writer)
            .await
            .map(drop)
            .map_err(repo_error)
    }

    async fn purge_refresh_tokens(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        let d = self.dialect;
        // A session goes when its newest token has expired: never a live session's old tokens,
        // which reuse detection needs.
        let ended = Query::select()
            .column(T::FamilyId)
            .from(refresh_tokens::Entity)
            .group_by_col(T::FamilyId)
            .and_having(Expr::from(Func::max(Expr::col(T::ExpiresAt))).lt(d.time(before)))
            .to_owned();
        refresh_tokens::Entity::delete_many()
            .filter(T::FamilyId.in_subquery(ended))
            .exec(&self.writer)
            .await
            .map(|done| done.rows_affected)
            .map_err(repo_error)
    }
}

/// The filter of one user's key.
fn key_filter(d: Dialect, user_id: UserId, key: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(K::UserId.eq(d.id(user_id)))
        .add(K::Key.eq(key))
}

#[async_trait]
impl IdempotencyRepository for Store {
    async fn begin_idempotent(
        &self,
        request: IdempotencyRequest,
        at: DateTime<Utc>,
        window: Duration,
        stale_after: Duration,
    ) -> Result<IdempotencyStart, RepoError> {
        let d = self.dialect;
        let reserve = Query::insert()
            .into_table(idempotency_keys::Entity)
            .columns([
                K::UserId,
                K::Key,
                K::ProjectId,
                K::RequestHash,
                K::CreatedAt,
            ])
            .values_panic([
                d.id(request.user_id).into(),
                request.key.clone().into(),
                d.id(request.project_id).into(),
                request.request_hash.clone().into(),
                d.time(at).into(),
            ])
            .on_conflict(
                OnConflict::columns([K::UserId, K::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        match self.writer.execute(&reserve).await {
            Ok(done) if done.rows_affected() == 1 => return Ok(IdempotencyStart::Proceed),
            Ok(_) => {}
            // The project does not exist: nothing to reserve; the creation will answer 404.
            Err(error)
                if matches!(
                    error.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                ) =>
            {
                return Ok(IdempotencyStart::Proceed);
            }
            Err(error) => return Err(repo_error(error)),
        }
        let filter = key_filter(d, request.user_id, &request.key);
        let existing = idempotency_keys::Entity::find()
            .filter(filter.clone())
            .one(&self.writer)
            .await
            .map_err(repo_error)?;
        let Some(existing) = existing else {
            return Ok(IdempotencyStart::InProgress);
        };
        let created_at = existing.created_at.0;
        let older_than = |limit: Duration| {
            at - created_at > chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX)
        };
        let expired = older_than(window);
        let abandoned = existing.response_body.is_none() && older_than(stale_after);
        if expired || abandoned {
            // Take the key over, unless someone else just did.
            let taken = idempotency_keys::Entity::update_many()
                .col_expr(K::ProjectId, Expr::val(d.id(request.project_id)))
                .col_expr(K::RequestHash, Expr::val(request.request_hash.clone()))
                .col_expr(K::ResponseBody, Expr::val(Option::<String>::None))
                .col_expr(K::CreatedAt, Expr::val(d.time(at)))
                .filter(filter)
                .filter(K::CreatedAt.eq(d.time(created_at)))
                .exec(&self.writer)
                .await
                .map_err(repo_error)?;
            return Ok(if taken.rows_affected == 1 {
                IdempotencyStart::Proceed
            } else {
                IdempotencyStart::InProgress
            });
        }
        if existing.request_hash != request.request_hash {
            return Ok(IdempotencyStart::Mismatch);
        }
        Ok(match existing.response_body {
            Some(response) => IdempotencyStart::Replay { response },
            None => IdempotencyStart::InProgress,
        })
    }

    async fn complete_idempotent(
        &self,
        user_id: UserId,
        key: String,
        response: String,
    ) -> Result<(), RepoError> {
        idempotency_keys::Entity::update_many()
            .col_expr(K::ResponseBody, Expr::val(response))
            .filter(key_filter(self.dialect, user_id, &key))
            .exec(&self.writer)
            .await
            .map(drop)
            .map_err(repo_error)
    }

    async fn abandon_idempotent(&self, user_id: UserId, key: String) -> Result<(), RepoError> {
        idempotency_keys::Entity::delete_many()
            .filter(key_filter(self.dialect, user_id, &key))
            .filter(K::ResponseBody.is_null())
            .exec(&self.writer)
            .await
            .map(drop)
            .map_err(repo_error)
    }

    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        idempotency_keys::Entity::delete_many()
            .filter(K::CreatedAt.lt(self.dialect.time(before)))
            .exec(&self.writer)
            .await
            .map(|done| done.rows_affected)
            .map_err(repo_error)
    }
}
