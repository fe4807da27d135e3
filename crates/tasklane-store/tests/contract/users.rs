//! Users: create, get, find by email; emails unique ignoring case.

use chrono::Utc;
use tasklane_domain::ids::UserId;
use tasklane_domain::ports::{CreateUserStoreError, NewUser, UserRepository};
use tasklane_domain::values::{DisplayName, Email};
use tasklane_store::testing::TestDb;

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

crate::contract!(users_are_stored_found_by_email_ignoring_case_and_emails_are_unique);
