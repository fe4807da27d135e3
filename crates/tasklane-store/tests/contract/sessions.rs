//! Refresh tokens (rotation, reuse revoking the family, expiry) and idempotency keys
//! (proceed, replay, mismatch, in progress, abandon, expiry).

use std::time::Duration;

use chrono::Utc;
use tasklane_domain::ports::{
    IdempotencyRepository, IdempotencyRequest, IdempotencyStart, NewRefreshToken,
    RefreshTokenRepository, Rotation,
};
use tasklane_store::testing::TestDb;
use uuid::Uuid;

use crate::World;

async fn refresh_tokens_rotate_once_and_a_reused_token_revokes_its_family(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let user = world.user("ada").await?;
    let store = world.store();
    let now = Utc::now();
    let later = now + chrono::Duration::days(30);
    let family = Uuid::new_v4();
    store
        .store_refresh_token(NewRefreshToken {
            id: Uuid::new_v4(),
            user_id: user,
            family_id: family,
            token_hash: "h1".into(),
            expires_at: later,
            created_at: now,
        })
        .await?;
    let first = store
        .rotate_refresh_token("h1".into(), Uuid::new_v4(), "h2".into(), later, now)
        .await?;
    assert_eq!(
        first,
        Rotation::Rotated {
            user_id: user,
            family_id: family
        }
    );
    let second = store
        .rotate_refresh_token("h2".into(), Uuid::new_v4(), "h3".into(), later, now)
        .await?;
    assert_eq!(
        second,
        Rotation::Rotated {
            user_id: user,
            family_id: family
        }
    );
    // h1 again: stolen or replayed. The family (h3 included) is revoked.
    assert_eq!(
        store
            .rotate_refresh_token("h1".into(), Uuid::new_v4(), "h4".into(), later, now)
            .await?,
        Rotation::Reused
    );
    assert_eq!(
        store
            .rotate_refresh_token("h3".into(), Uuid::new_v4(), "h5".into(), later, now)
            .await?,
        Rotation::Reused
    );
    assert_eq!(
        store
            .rotate_refresh_token("nope".into(), Uuid::new_v4(), "h6".into(), later, now)
            .await?,
        Rotation::Invalid
    );

    store
        .store_refresh_token(NewRefreshToken {
            id: Uuid::new_v4(),
            user_id: user,
            family_id: Uuid::new_v4(),
            token_hash: "old".into(),
            expires_at: now - chrono::Duration::seconds(1),
            created_at: now,
        })
        .await?;
    assert_eq!(
        store
            .rotate_refresh_token("old".into(), Uuid::new_v4(), "h7".into(), later, now)
            .await?,
        Rotation::Invalid,
        "expired"
    );

    store
        .store_refresh_token(NewRefreshToken {
            id: Uuid::new_v4(),
            user_id: user,
            family_id: Uuid::new_v4(),
            token_hash: "s1".into(),
            expires_at: later,
            created_at: now,
        })
        .await?;
    store.revoke_refresh_family("s1".into(), now).await?;
    assert_eq!(
        store
            .rotate_refresh_token("s1".into(), Uuid::new_v4(), "s2".into(), later, now)
            .await?,
        Rotation::Reused,
        "logged out"
    );
    store.revoke_refresh_family("unknown".into(), now).await?;
    Ok(())
}

async fn idempotency_keys_replay_refuse_other_bodies_and_expire(db: TestDb) -> anyhow::Result<()> {
    let world = World::new(db);
    let user = world.user("ada").await?;
    let project = world.project(user, "IDEM").await?.project.id;
    let store = world.store();
    let day = Duration::from_secs(86_400);
    let minute = Duration::from_secs(60);
    let request = |key: &str, hash: &str| IdempotencyRequest {
        user_id: user,
        key: key.into(),
        project_id: project,
        request_hash: hash.into(),
    };
    let now = Utc::now();

    assert_eq!(
        store
            .begin_idempotent(request("k1", "body"), now, day, minute)
            .await?,
        IdempotencyStart::Proceed
    );
    assert_eq!(
        store
            .begin_idempotent(request("k1", "body"), now, day, minute)
            .await?,
        IdempotencyStart::InProgress
    );
    store
        .complete_idempotent(user, "k1".into(), "{\"id\":1}".into())
        .await?;
    assert_eq!(
        store
            .begin_idempotent(request("k1", "body"), now, day, minute)
            .await?,
        IdempotencyStart::Replay {
            response: "{\"id\":1}".into()
        }
    );
    assert_eq!(
        store
            .begin_idempotent(request("k1", "other"), now, day, minute)
            .await?,
        IdempotencyStart::Mismatch
    );
    let other_user = world.user("bob").await?;
    let theirs = IdempotencyRequest {
        user_id: other_user,
        ..request("k1", "other")
    };
    assert_eq!(
        store.begin_idempotent(theirs, now, day, minute).await?,
        IdempotencyStart::Proceed,
        "keys are per user"
    );

    // Abandoned by a failed request: a retry proceeds.
    assert_eq!(
        store
            .begin_idempotent(request("k2", "body"), now, day, minute)
            .await?,
        IdempotencyStart::Proceed
    );
    store.abandon_idempotent(user, "k2".into()).await?;
    assert_eq!(
        store
            .begin_idempotent(request("k2", "body"), now, day, minute)
            .await?,
        IdempotencyStart::Proceed
    );
    // Left without a response for longer than `stale_after`: taken over.
    let later = now + chrono::Duration::minutes(2);
    assert_eq!(
        store
            .begin_idempotent(request("k2", "body"), later, day, minute)
            .await?,
        IdempotencyStart::Proceed
    );
    // After the window a key is new again, whatever its body.
    let tomorrow = now + chrono::Duration::hours(25);
    assert_eq!(
        store
            .begin_idempotent(request("k1", "third"), tomorrow, day, minute)
            .await?,
        IdempotencyStart::Proceed
    );
    Ok(())
}

async fn the_purge_deletes_dead_sessions_and_old_idempotency_keys_only(
    db: TestDb,
) -> anyhow::Result<()> {
    let world = World::new(db);
    let user = world.user("ada").await?;
    let project = world.project(user, "PURGE").await?.project.id;
    let store = world.store();
    let now = Utc::now();
    let (dead, live) = (Uuid::new_v4(), Uuid::new_v4());
    for (hash, family, expires_at) in [
        ("dead-1", dead, now - chrono::Duration::hours(2)),
        ("dead-2", dead, now - chrono::Duration::hours(1)),
        // A used token of a live session: kept, so that replaying it still revokes the session.
        ("live-old", live, now - chrono::Duration::hours(1)),
        ("live-new", live, now + chrono::Duration::days(1)),
    ] {
        store
            .store_refresh_token(NewRefreshToken {
                id: Uuid::new_v4(),
                user_id: user,
                family_id: family,
                token_hash: hash.into(),
                expires_at,
                created_at: now - chrono::Duration::days(2),
            })
            .await?;
    }
    assert_eq!(store.purge_refresh_tokens(now).await?, 2);
    assert_eq!(
        world
            .db
            .scalar("SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'live-%'")
            .await?,
        2
    );
    for (key, at) in [
        ("old", now - chrono::Duration::hours(25)),
        ("recent", now - chrono::Duration::hours(1)),
    ] {
        let request = IdempotencyRequest {
            user_id: user,
            key: key.into(),
            project_id: project,
            request_hash: "h".into(),
        };
        let window = Duration::from_secs(24 * 3600);
        store
            .begin_idempotent(request, at, window, Duration::from_secs(60))
            .await?;
    }
    let cutoff = now - chrono::Duration::hours(24);
    assert_eq!(store.purge_idempotency_keys(cutoff).await?, 1);
    assert_eq!(
        world
            .db
            .scalar("SELECT count(*) FROM idempotency_keys")
            .await?,
        1
    );
    Ok(())
}

crate::contract!(
    refresh_tokens_rotate_once_and_a_reused_token_revokes_its_family,
    idempotency_keys_replay_refuse_other_bodies_and_expire,
    the_purge_deletes_dead_sessions_and_old_idempotency_keys_only,
);
