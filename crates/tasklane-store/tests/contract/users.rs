//! Users: create, get, find by email; emails unique ignoring case; profile changes; a password
//! replaced only over the hash it was checked against, ending every other session.

use chrono::Utc;
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{
    CreateUserStoreError, NewRefreshToken, NewUser, ProfileChange, RefreshTokenRepository,
    Rotation, UserRepository,
};
use tasklane_domain::values::{AvatarUrl, DisplayName, Email};
use tasklane_store::testing::TestDb;
use uuid::Uuid;

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        email: Email::new(email).unwrap(),
        display_name: DisplayName::new("Ada").unwrap(),
        avatar_url: None,
        password_hash: "$argon2id$v=19$stub".into(),
        created_at: Utc::now(),
    }
}

async fn users_are_stored_found_by_email_ignoring_case_and_emails_are_unique(
    db: TestDb,
) -> anyhow::Result<()> {
    let store = &db.store;
    let created = store.create_user(new_user("Ada@Example.com")).await?;
    assert_eq!(
        created.summary.email.as_str(),
        "Ada@Example.com",
        "stored as given"
    );

    let fetched = store
        .get_user(created.summary.id)
        .await?
        .expect("the user exists");
    assert_eq!(fetched.summary, created.summary);
    assert!(store.get_user(UserId::generate()).await?.is_none());

    let found = store
        .find_credentials(Email::new("ada@EXAMPLE.com")?)
        .await?
        .expect("found ignoring case");
    assert_eq!(found.user.summary.id, created.summary.id);
    assert_eq!(found.password_hash, "$argon2id$v=19$stub");
    assert!(
        store
            .find_credentials(Email::new("bob@example.com")?)
            .await?
            .is_none()
    );

    let duplicate = store.create_user(new_user("ADA@example.COM")).await;
    assert!(
        matches!(duplicate, Err(CreateUserStoreError::EmailTaken)),
        "{duplicate:?}"
    );
    Ok(())
}

async fn profiles_change_field_by_field(db: TestDb) -> anyhow::Result<()> {
    let store = &db.store;
    let ada = store.create_user(new_user("ada@example.com")).await?;
    let id = ada.summary.id;
    let at = Utc::now();
    let avatar = AvatarUrl::new("https://cdn.example.com/ada.png")?;
    let change = ProfileChange {
        display_name: None,
        avatar_url: Some(Some(avatar.clone())),
    };
    let changed = store.update_profile(id, change, at).await?.unwrap();
    assert_eq!(changed.summary.display_name.as_str(), "Ada", "kept");
    assert_eq!(changed.summary.avatar_url, Some(avatar.clone()));
    let renamed = ProfileChange {
        display_name: Some(DisplayName::new("Ada L.")?),
        avatar_url: None,
    };
    let changed = store.update_profile(id, renamed, at).await?.unwrap();
    assert_eq!(changed.summary.display_name.as_str(), "Ada L.");
    assert_eq!(changed.summary.avatar_url, Some(avatar), "kept");
    let cleared = ProfileChange {
        display_name: None,
        avatar_url: Some(None),
    };
    let changed = store.update_profile(id, cleared, at).await?.unwrap();
    assert_eq!(changed.summary.avatar_url, None);
    assert_eq!(store.get_user(id).await?.unwrap().summary, changed.summary);
    assert!(
        store
            .update_profile(UserId::generate(), ProfileChange::default(), at)
            .await?
            .is_none()
    );
    Ok(())
}

async fn a_password_is_replaced_over_its_checked_hash_and_other_sessions_end(
    db: TestDb,
) -> anyhow::Result<()> {
    let store = &db.store;
    let ada = store
        .create_user(new_user("ada@example.com"))
        .await?
        .summary
        .id;
    let bob = store
        .create_user(new_user("bob@example.com"))
        .await?
        .summary
        .id;
    let now = Utc::now();
    let later = now + chrono::Duration::days(30);
    let (mine, elsewhere, bobs) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (user, family, hash) in [(ada, mine, "m1"), (ada, elsewhere, "e1"), (bob, bobs, "b1")] {
        let token = NewRefreshToken {
            id: Uuid::new_v4(),
            user_id: user,
            family_id: family,
            token_hash: hash.into(),
            expires_at: later,
            created_at: now,
        };
        store.store_refresh_token(token).await?;
    }
    let stale = store
        .replace_password(ada, "not the hash".into(), "new".into(), Some(mine), now)
        .await?;
    assert!(!stale, "a hash that is no longer current replaces nothing");
    let rotated = store
        .rotate_refresh_token("e1".into(), Uuid::new_v4(), "e2".into(), later, now)
        .await?;
    assert!(
        matches!(rotated, Rotation::Rotated { .. }),
        "nothing revoked"
    );

    let stub = "$argon2id$v=19$stub".to_owned();
    assert!(
        store
            .replace_password(ada, stub.clone(), "new".into(), Some(mine), now)
            .await?
    );
    let credentials = store.get_credentials(ada).await?.unwrap();
    assert_eq!(credentials.password_hash, "new");
    let rotate = |hash: &'static str, next: &'static str| {
        store.rotate_refresh_token(hash.into(), Uuid::new_v4(), next.into(), later, now)
    };
    assert!(
        matches!(rotate("m1", "m2").await?, Rotation::Rotated { family_id, .. } if family_id == mine),
        "the session that changed the password stays"
    );
    assert_eq!(
        rotate("e2", "e3").await?,
        Rotation::Reused,
        "another session ends"
    );
    assert!(
        matches!(rotate("b1", "b2").await?, Rotation::Rotated { .. }),
        "another user's sessions are untouched"
    );
    assert!(
        !store
            .replace_password(ada, stub, "newer".into(), None, now)
            .await?,
        "the old hash no longer matches"
    );
    assert!(
        store
            .replace_password(ada, "new".into(), "newer".into(), None, now)
            .await?
    );
    assert_eq!(
        rotate("m2", "m3").await?,
        Rotation::Reused,
        "no session kept"
    );
    assert!(store.get_credentials(UserId::generate()).await?.is_none());
    Ok(())
}

crate::contract!(
    users_are_stored_found_by_email_ignoring_case_and_emails_are_unique,
    profiles_change_field_by_field,
    a_password_is_replaced_over_its_checked_hash_and_other_sessions_end,
);
