//! Access tokens (JWT, HS256, short-lived, `typ: access`) and refresh tokens (256 random bits,
//! stored as their SHA-256, rotated on use): the server's [`TokenIssuer`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{AccessToken, RefreshSecret, TokenIssuer};
use uuid::Uuid;

use crate::settings::JwtSecret;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
    typ: String,
    /// The session (refresh-token family) the token was issued to; absent in tokens issued
    /// before sessions were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
}

/// Who a valid access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    /// The user.
    pub user: UserId,
    /// Their session: the refresh-token family the token was issued with.
    pub session: Option<Uuid>,
}

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    /// Keys from `secret`, tokens living `ttl`.
    ///
    /// # Errors
    /// When the secret is empty.
    pub fn new(secret: &JwtSecret, ttl: Duration) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        // A token "not valid before" a future time is refused until then.
        validation.validate_nbf = true;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret.0)?,
            decoding: DecodingKey::from_secret(&secret.0)?,
            validation,
            ttl,
        })
    }

    /// The tokens' lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// A token for `user` in `session` (a refresh-token family), valid from `now` for the
    /// configured lifetime.
    ///
    /// # Errors
    /// When signing fails.
    pub fn issue(&self, user: UserId, session: Uuid, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user.as_uuid(),
            iat: now.timestamp(),
            exp: now.timestamp() + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX),
            jti: Uuid::new_v4(),
            typ: "access".into(),
            sid: Some(session),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The user and session of a valid, unexpired access token; `None` for anything else (a
    /// refresh token, another signature, an expired token).
    pub fn verify(&self, token: &str) -> Option<Bearer> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.typ == "access").then(|| Bearer {
            user: UserId::from_uuid(data.claims.sub),
            session: data.claims.sid,
        })
    }
}

impl TokenIssuer for AccessTokens {
    fn new_refresh_token(&self) -> anyhow::Result<RefreshSecret> {
        let token = new_refresh_token()?;
        Ok(RefreshSecret {
            hash: hash_refresh_token(&token),
            token,
        })
    }

    fn hash_refresh_token(&self, token: &str) -> String {
        hash_refresh_token(token)
    }

    fn issue_access_token(
        &self,
        user: UserId,
        session: Uuid,
        at: DateTime<Utc>,
    ) -> anyhow::Result<AccessToken> {
        Ok(AccessToken {
            token: self.issue(user, session, at)?,
            expires_in: self.ttl_secs(),
        })
    }
}

/// A new opaque refresh token: 32 random bytes, hex.
///
/// # Errors
/// When the system has no randomness.
pub fn new_refresh_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// How a refresh token is stored: its SHA-256, hex. A stolen database holds no usable token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ttl: u64) -> AccessTokens {
        AccessTokens::new(
            &JwtSecret(b"0123456789abcdef0123456789abcdef".to_vec()),
            Duration::from_secs(ttl),
        )
        .unwrap()
    }

    #[test]
    fn access_tokens_verify_until_they_expire_and_only_with_their_key() {
        let user = UserId::generate();
        let now = Utc::now();
        let session = Uuid::new_v4();
        let token = tokens(900).issue(user, session, now).unwrap();
        assert_eq!(
            tokens(900).verify(&token),
            Some(Bearer {
                user,
                session: Some(session)
            })
        );
        let expired = tokens(900)
            .issue(user, session, now - chrono::Duration::seconds(1000))
            .unwrap();
        assert_eq!(tokens(900).verify(&expired), None);
        let other = AccessTokens::new(
            &JwtSecret(b"another secret of enough length!!".to_vec()),
            Duration::from_secs(900),
        )
        .unwrap();
        assert_eq!(other.verify(&token), None);
        assert_eq!(tokens(900).verify("not.a.jwt"), None);
        let early = encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({
                "sub": user.as_uuid(), "iat": now.timestamp(), "exp": now.timestamp() + 900,
                "nbf": now.timestamp() + 600, "jti": Uuid::new_v4(), "typ": "access",
            }),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
        )
        .unwrap();
        assert_eq!(tokens(900).verify(&early), None, "not valid before nbf");
        let refresh = new_refresh_token().unwrap();
        assert_eq!(
            tokens(900).verify(&refresh),
            None,
            "a refresh token is never an access token"
        );
        assert_eq!(refresh.len(), 64);
        assert_eq!(hash_refresh_token(&refresh).len(), 64);
        assert_ne!(hash_refresh_token(&refresh), refresh);
    }
}
