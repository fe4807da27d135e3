//! Interaction tests of the session service with mocked ports: a login stores a new family and
//! issues tokens in it; a refresh rotates within the family; a reused, unknown or orphaned token
//! is refused; logout revokes by the presented token's hash; nothing is stored when the
//! credentials are wrong.

use std::sync::{Arc, Mutex};

use crate::errors::{Classify, ErrorClass, RepoError};
use crate::ids::UserId;
use crate::model::{User, UserCredentials};
use crate::ports::{AccessToken, NewRefreshToken, RefreshSecret, Rotation};
use crate::services::sessions::RefreshError;
use crate::services::users::LoginError;
use crate::tests::support::{Harness, now, user};

fn ada() -> User {
    User {
        summary: user("ada"),
        created_at: now(),
        updated_at: now(),
    }
}

/// Tokens numbered in issue order, hashed as `hash(<token>)`, access tokens naming their
/// session.
fn tokens(h: &mut Harness) {
    let issued = Arc::new(Mutex::new(0));
    h.tokens.expect_new_refresh_token().returning(move || {
        let mut n = issued.lock().unwrap();
        *n += 1;
        Ok(RefreshSecret {
            token: format!("refresh-{n}"),
            hash: format!("hash(refresh-{n})"),
        })
    });
    h.tokens
        .expect_hash_refresh_token()
        .returning(|token| format!("hash({token})"));
    h.tokens
        .expect_issue_access_token()
        .returning(|user, session, _| {
            Ok(AccessToken {
                token: format!("access:{user}:{session}"),
                expires_in: 900,
            })
        });
}

fn knows(h: &mut Harness, user: &User) {
    let user = user.clone();
    h.users.expect_find_credentials().returning(move |_| {
        Ok(Some(UserCredentials {
            user: user.clone(),
            password_hash: "$hash".into(),
        }))
    });
    h.passwords
        .expect_verify()
        .returning(|p, _| Ok(p.expose() == "right password"));
}

#[tokio::test]
async fn a_login_starts_a_new_family_with_both_tokens_in_it() {
    let mut h = Harness::new();
    let ada = ada();
    tokens(&mut h);
    knows(&mut h, &ada);
    let stored = Arc::new(Mutex::new(Vec::<NewRefreshToken>::new()));
    let kept = stored.clone();
    h.refresh_tokens
        .expect_store_refresh_token()
        .times(2)
        .returning(move |token| {
            kept.lock().unwrap().push(token);
            Ok(())
        });
    let (services, _) = h.build();

    let first = services
        .sessions
        .login("ada@example.com", "right password")
        .await
        .unwrap();
    let second = services
        .sessions
        .login("ada@example.com", "right password")
        .await
        .unwrap();

    let stored = stored.lock().unwrap();
    assert_eq!(stored[0].family_id, first.id);
    assert_eq!(stored[0].user_id, ada.summary.id);
    assert_eq!(
        stored[0].token_hash, "hash(refresh-1)",
        "only the hash is kept"
    );
    assert_eq!(stored[0].expires_at, now() + chrono::Duration::days(30));
    assert_eq!(first.refresh_token, "refresh-1");
    assert_eq!(
        first.access.token,
        format!("access:{}:{}", ada.summary.id, first.id)
    );
    assert_ne!(first.id, second.id, "every login is a session of its own");
}

#[tokio::test]
async fn wrong_credentials_store_nothing() {
    let mut h = Harness::new();
    tokens(&mut h);
    knows(&mut h, &ada());
    h.refresh_tokens.expect_store_refresh_token().never();
    let (services, _) = h.build();

    let error = services
        .sessions
        .login("ada@example.com", "wrong password")
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::InvalidCredentials));
}

#[tokio::test]
async fn a_refresh_rotates_within_the_family_and_anything_but_a_live_token_is_refused() {
    let mut h = Harness::new();
    tokens(&mut h);
    let family = uuid::Uuid::now_v7();
    let ada_id = ada().summary.id;
    let orphan = UserId::generate();
    h.refresh_tokens.expect_rotate_refresh_token().returning(
        move |presented, _, next_hash, expires_at, _| {
            assert!(
                next_hash.starts_with("hash(refresh-"),
                "the successor is stored hashed"
            );
            assert_eq!(expires_at, now() + chrono::Duration::days(30));
            Ok(match presented.as_str() {
                "hash(live)" => Rotation::Rotated {
                    user_id: ada_id,
                    family_id: family,
                },
                "hash(orphan)" => Rotation::Rotated {
                    user_id: orphan,
                    family_id: family,
                },
                "hash(used)" => Rotation::Reused,
                _ => Rotation::Invalid,
            })
        },
    );
    h.users.expect_get_user().returning(move |id| {
        if id == ada_id {
            Ok(Some(ada()))
        } else {
            Ok(None)
        }
    });
    let (services, _) = h.build();

    let renewed = services.sessions.refresh("live").await.unwrap();
    assert_eq!(renewed.id, family, "the session goes on");
    assert_eq!(renewed.refresh_token, "refresh-1");
    for refused in ["used", "unknown", "orphan"] {
        let error = services.sessions.refresh(refused).await.unwrap_err();
        assert_eq!(error.class(), ErrorClass::Unauthenticated, "{refused}");
    }
}

#[tokio::test]
async fn a_store_failure_during_refresh_is_not_the_clients_fault() {
    let mut h = Harness::new();
    tokens(&mut h);
    h.refresh_tokens
        .expect_rotate_refresh_token()
        .returning(|_, _, _, _, _| Err(RepoError::other("down")));
    let (services, _) = h.build();

    let error = services.sessions.refresh("live").await.unwrap_err();
    assert!(matches!(error, RefreshError::Store(_)));
    assert_eq!(error.class(), ErrorClass::Internal);
}

#[tokio::test]
async fn logout_revokes_the_family_of_the_presented_tokens_hash() {
    let mut h = Harness::new();
    tokens(&mut h);
    h.refresh_tokens
        .expect_revoke_refresh_family()
        .withf(|presented, at| presented == "hash(refresh-7)" && *at == now())
        .times(1)
        .returning(|_, _| Ok(()));
    let (services, _) = h.build();

    services.sessions.logout("refresh-7").await.unwrap();
}
