//! Users, sessions' refresh tokens, request keys, and the store's health.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tasklane_domain::errors::RepoError;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::{User, UserCredentials, UserSummary};
use tasklane_domain::ports::{
    CreateUserStoreError, Health, IdempotencyRepository, IdempotencyRequest, IdempotencyStart,
    NewRefreshToken, NewUser, ProfileChange, RefreshTokenRepository, Rotation, UserRepository,
};
use tasklane_domain::values::Email;
use uuid::Uuid;

use crate::MemoryStore;
use crate::tables::{KeyRow, RefreshRow, UserRow};

fn longer_than(elapsed: chrono::Duration, limit: Duration) -> bool {
    elapsed > chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn create_user(&self, user: NewUser) -> Result<User, CreateUserStoreError> {
        self.write(|tables| {
            let taken = tables
                .users
                .values()
                .any(|row| row.user.summary.email.normalized() == user.email.normalized());
            if taken {
                return Err(CreateUserStoreError::EmailTaken);
            }
            let created = User {
                summary: UserSummary {
                    id: user.id,
                    email: user.email,
                    display_name: user.display_name,
                    avatar_url: user.avatar_url,
                },
                created_at: user.created_at,
                updated_at: user.created_at,
            };
            tables.users.insert(
                user.id,
                UserRow {
                    user: created.clone(),
                    password_hash: user.password_hash,
                },
            );
            Ok(created)
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, RepoError> {
        Ok(self.read(|tables| tables.users.get(&id).map(|row| row.user.clone())))
    }

    async fn find_credentials(&self, email: Email) -> Result<Option<UserCredentials>, RepoError> {
        Ok(self.read(|tables| {
            tables
                .users
                .values()
                .find(|row| row.user.summary.email.normalized() == email.normalized())
                .map(|row| UserCredentials {
                    user: row.user.clone(),
                    password_hash: row.password_hash.clone(),
                })
        }))
    }

    async fn find_user_by_email(&self, email: Email) -> Result<Option<User>, RepoError> {
        Ok(self
            .find_credentials(email)
            .await?
            .map(|credentials| credentials.user))
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: ProfileChange,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, RepoError> {
        self.write(|tables| {
            let Some(row) = tables.users.get_mut(&id) else {
                return Ok(None);
            };
            let summary = &mut row.user.summary;
            if let Some(name) = change.display_name {
                summary.display_name = name;
            }
            if let Some(avatar) = change.avatar_url {
                summary.avatar_url = avatar;
            }
            row.user.updated_at = at;
            let user = row.user.clone();
            tables.directory_version += 1;
            // Tasks, comments and members carry the summary as it is now.
            let summary = user.summary.clone();
            for task in tables.tasks.values_mut() {
                for person in [&mut task.assignee, &mut task.reporter]
                    .into_iter()
                    .flatten()
                {
                    if person.id == id {
                        *person = summary.clone();
                    }
                }
            }
            for comment in tables.comments.values_mut() {
                if let Some(author) = comment.author.as_mut().filter(|a| a.id == id) {
                    *author = summary.clone();
                }
            }
            Ok(Some(user))
        })
    }

    async fn get_credentials(&self, id: UserId) -> Result<Option<UserCredentials>, RepoError> {
        Ok(self.read(|tables| {
            tables.users.get(&id).map(|row| UserCredentials {
                user: row.user.clone(),
                password_hash: row.password_hash.clone(),
            })
        }))
    }

    async fn replace_password(
        &self,
        id: UserId,
        expected_hash: String,
        password_hash: String,
        keep_family: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.write(|tables| {
            let Some(row) = tables.users.get_mut(&id) else {
                return Ok(false);
            };
            if row.password_hash != expected_hash {
                return Ok(false);
            }
            row.password_hash = password_hash;
            row.user.updated_at = at;
            for token in &mut tables.refresh_tokens {
                if token.token.user_id == id && Some(token.token.family_id) != keep_family {
                    token.revoked = true;
                }
            }
            Ok(true)
        })
    }
}

#[async_trait]
impl RefreshTokenRepository for MemoryStore {
    async fn store_refresh_token(&self, token: NewRefreshToken) -> Result<(), RepoError> {
        self.write(|tables| {
            tables.refresh_tokens.push(RefreshRow {
                token,
                used: false,
                revoked: false,
            });
            Ok(())
        })
    }

    async fn rotate_refresh_token(
        &self,
        presented: String,
        next_id: Uuid,
        next_hash: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Rotation, RepoError> {
        self.write(|tables| {
            let tokens = &mut tables.refresh_tokens;
            let Some(index) = tokens.iter().position(|t| t.token.token_hash == presented) else {
                return Ok(Rotation::Invalid);
            };
            let family = tokens[index].token.family_id;
            if tokens[index].used || tokens[index].revoked {
                for token in tokens.iter_mut().filter(|t| t.token.family_id == family) {
                    token.revoked = true;
                }
                return Ok(Rotation::Reused);
            }
            if tokens[index].token.expires_at <= at {
                return Ok(Rotation::Invalid);
            }
            tokens[index].used = true;
            let user_id = tokens[index].token.user_id;
            tokens.push(RefreshRow {
                token: NewRefreshToken {
                    id: next_id,
                    user_id,
                    family_id: family,
                    token_hash: next_hash,
                    expires_at,
                    created_at: at,
                },
                used: false,
                revoked: false,
            });
            Ok(Rotation::Rotated {
                user_id,
                family_id: family,
            })
        })
    }

    async fn revoke_refresh_family(
        &self,
        presented: String,
        _: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        self.write(|tables| {
            let tokens = &mut tables.refresh_tokens;
            if let Some(family) = tokens
                .iter()
                .find(|t| t.token.token_hash == presented)
                .map(|t| t.token.family_id)
            {
                for token in tokens.iter_mut().filter(|t| t.token.family_id == family) {
                    token.revoked = true;
                }
            }
            Ok(())
        })
    }

    async fn purge_refresh_tokens(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        self.write(|tables| {
            let tokens = &mut tables.refresh_tokens;
            let live: std::collections::BTreeSet<Uuid> = tokens
                .iter()
                .filter(|t| t.token.expires_at >= before)
                .map(|t| t.token.family_id)
                .collect();
            let count = tokens.len();
            tokens.retain(|t| live.contains(&t.token.family_id));
            Ok((count - tokens.len()) as u64)
        })
    }
}

#[async_trait]
impl IdempotencyRepository for MemoryStore {
    async fn begin_idempotent(
        &self,
        request: IdempotencyRequest,
        at: DateTime<Utc>,
        window: Duration,
        stale_after: Duration,
    ) -> Result<IdempotencyStart, RepoError> {
        self.write(|tables| {
            let fresh = KeyRow {
                request_hash: request.request_hash.clone(),
                response: None,
                created_at: at,
            };
            let slot = (request.user_id, request.key.clone());
            let Some(row) = tables.keys.get(&slot) else {
                tables.keys.insert(slot, fresh);
                return Ok(IdempotencyStart::Proceed);
            };
            let elapsed = at - row.created_at;
            let abandoned = row.response.is_none() && longer_than(elapsed, stale_after);
            if longer_than(elapsed, window) || abandoned {
                tables.keys.insert(slot, fresh);
                return Ok(IdempotencyStart::Proceed);
            }
            if row.request_hash != request.request_hash {
                return Ok(IdempotencyStart::Mismatch);
            }
            Ok(match &row.response {
                Some(response) => IdempotencyStart::Replay {
                    response: response.clone(),
                },
                None => IdempotencyStart::InProgress,
            })
        })
    }

    async fn complete_idempotent(
        &self,
        user_id: UserId,
        key: String,
        response: String,
    ) -> Result<(), RepoError> {
        self.write(|tables| {
            if let Some(row) = tables.keys.get_mut(&(user_id, key)) {
                row.response = Some(response);
            }
            Ok(())
        })
    }

    async fn abandon_idempotent(&self, user_id: UserId, key: String) -> Result<(), RepoError> {
        self.write(|tables| {
            let slot = (user_id, key);
            if tables
                .keys
                .get(&slot)
                .is_some_and(|row| row.response.is_none())
            {
                tables.keys.remove(&slot);
            }
            Ok(())
        })
    }

    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        self.write(|tables| {
            let count = tables.keys.len();
            tables.keys.retain(|_, row| row.created_at >= before);
            Ok((count - tables.keys.len()) as u64)
        })
    }
}

#[async_trait]
impl Health for MemoryStore {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}
