//! Refresh tokens and idempotency keys. Both are decided by single conditional statements, so
//! two concurrent requests cannot both win: of two uses of one refresh token only one `UPDATE …
//! WHERE revoked_at IS NULL` changes a row; of two reservations of one key only one `INSERT … ON
//! CONFLICT DO NOTHING` inserts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{
    IdempotencyRepository, IdempotencyRequest, IdempotencyStart, NewRefreshToken,
    RefreshTokenRepository, Rotation,
};
use uuid::Uuid;

use crate::Store;
use crate::db::{exec, in_transaction, one};
use crate::errors::{Fail, repo_error};

#[async_trait]
impl RefreshTokenRepository for Store {
    async fn store_refresh_token(&self, token: NewRefreshToken) -> Result<(), RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                d.id(token.id),
                d.id(token.user_id),
                d.id(token.family_id),
                token.token_hash.into(),
                d.time(token.expires_at),
                d.time(token.created_at),
            ],
        );
        exec(&self.writer, stmt).await.map(drop).map_err(repo_error)
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
            let used = d.stmt(
                "UPDATE refresh_tokens SET revoked_at = $2 \
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING user_id, family_id",
                vec![presented.clone().into(), d.time(at)],
            );
            if let Some(row) = one(txn, used).await? {
                let r = d.row(&row);
                let (user_id, family_id) = (r.id("user_id")?, r.id("family_id")?);
                let next = d.stmt(
                    "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    vec![d.id(next_id), d.id(user_id), d.id(family_id), next_hash.clone().into(), d.time(expires_at), d.time(at)],
                );
                exec(txn, next).await?;
                return Ok(Rotation::Rotated { user_id: UserId::from_uuid(user_id), family_id });
            }
            let known = d.stmt(
                "SELECT family_id, revoked_at FROM refresh_tokens WHERE token_hash = $1",
                vec![presented.clone().into()],
            );
            match one(txn, known).await? {
                Some(row) if d.row(&row).opt_time("revoked_at")?.is_some() => {
                    // Used before: somebody holds a copy. End the whole session.
                    let family = d.row(&row).id("family_id")?;
                    let revoke = d.stmt(
                        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                        vec![d.id(family), d.time(at)],
                    );
                    exec(txn, revoke).await?;
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
        let stmt = d.stmt(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
             AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
            vec![presented.into(), d.time(at)],
        );
        exec(&self.writer, stmt).await.map(drop).map_err(repo_error)
    }

    async fn purge_refresh_tokens(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "DELETE FROM refresh_tokens WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens GROUP BY family_id HAVING max(expires_at) < $1)",
            vec![d.time(before)],
        );
        exec(&self.writer, stmt).await.map_err(repo_error)
    }
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
        let key_values = || vec![d.id(request.user_id), request.key.clone().into()];
        let mut values = key_values();
        values.extend([
            d.id(request.project_id),
            request.request_hash.clone().into(),
            d.time(at),
        ]);
        let reserve = d.stmt(
            "INSERT INTO idempotency_keys (user_id, key, project_id, request_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, key) DO NOTHING",
            values,
        );
        match exec(&self.writer, reserve).await {
            Ok(1) => return Ok(IdempotencyStart::Proceed),
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
        let existing = d.stmt(
            "SELECT request_hash, response_body, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            key_values(),
        );
        let Some(row) = one(&self.writer, existing).await.map_err(repo_error)? else {
            return Ok(IdempotencyStart::InProgress);
        };
        let r = d.row(&row);
        let created_at = r.time("created_at").map_err(repo_error)?;
        let expired =
            at - created_at > chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let response = r.opt_text("response_body").map_err(repo_error)?;
        let abandoned = response.is_none()
            && at - created_at
                > chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        if expired || abandoned {
            // Take the key over, unless someone else just did.
            let mut values = key_values();
            values.extend([
                d.id(request.project_id),
                request.request_hash.clone().into(),
                d.time(at),
                d.time(created_at),
            ]);
            let take = d.stmt(
                "UPDATE idempotency_keys SET project_id = $3, request_hash = $4, response_body = NULL, \
                 created_at = $5 WHERE user_id = $1 AND key = $2 AND created_at = $6",
                values,
            );
            let taken = exec(&self.writer, take).await.map_err(repo_error)?;
            return Ok(if taken == 1 {
                IdempotencyStart::Proceed
            } else {
                IdempotencyStart::InProgress
            });
        }
        if r.text("request_hash").map_err(repo_error)? != request.request_hash {
            return Ok(IdempotencyStart::Mismatch);
        }
        Ok(match response {
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
        let d = self.dialect;
        let stmt = d.stmt(
            "UPDATE idempotency_keys SET response_body = $3 WHERE user_id = $1 AND key = $2",
            vec![d.id(user_id), key.into(), response.into()],
        );
        exec(&self.writer, stmt).await.map(drop).map_err(repo_error)
    }

    async fn abandon_idempotent(&self, user_id: UserId, key: String) -> Result<(), RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND response_body IS NULL",
            vec![d.id(user_id), key.into()],
        );
        exec(&self.writer, stmt).await.map(drop).map_err(repo_error)
    }

    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        let d = self.dialect;
        let stmt = d.stmt(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            vec![d.time(before)],
        );
        exec(&self.writer, stmt).await.map_err(repo_error)
    }
}
