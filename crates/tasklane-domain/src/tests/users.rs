//! Interaction tests of the user service with mocked ports: registration, login, profile
//! changes, and the password change that ends the other sessions.

use crate::errors::{Classify, ErrorClass};
use crate::ids::UserId;
use crate::model::{User, UserCredentials};
use crate::ports::{CreateUserStoreError, HashError};
use crate::services::users::{
    LoginError, PasswordChangeError, ProfileError, ProfileInput, RegisterError, RegisterInput,
};
use crate::tests::support::{Harness, fields, now, user};

fn registered(email: &str) -> User {
    User {
        summary: crate::model::UserSummary {
            email: crate::values::Email::new(email).unwrap(),
            ..user("ada")
        },
        created_at: now(),
        updated_at: now(),
    }
}

#[tokio::test]
async fn register_hashes_the_password_and_reports_a_taken_email() {
    let mut h = Harness::new();
    h.passwords
        .expect_hash()
        .withf(|p| p.expose() == "correct horse")
        .returning(|_| Ok("$argon2id$fake".into()));
    let mut seq = mockall::Sequence::new();
    h.users
        .expect_create_user()
        .withf(|u| u.password_hash == "$argon2id$fake" && u.email.as_str() == "Ada@Example.com")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|u| Ok(registered(u.email.as_str())));
    h.users
        .expect_create_user()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(CreateUserStoreError::EmailTaken));
    let (services, _) = h.build();
    let input = RegisterInput {
        email: "Ada@Example.com".into(),
        password: "correct horse".into(),
        display_name: "Ada".into(),
    };

    assert!(services.users.register(input.clone()).await.is_ok());
    let error = services.users.register(input).await.unwrap_err();
    assert!(matches!(error, RegisterError::EmailTaken));
    assert_eq!(error.class(), ErrorClass::EmailTaken);

    let bad = RegisterInput {
        email: "nope".into(),
        password: "short".into(),
        display_name: String::new(),
    };
    let error = services.users.register(bad).await.unwrap_err();
    assert_eq!(error.field_errors().unwrap().errors().len(), 3);
}

#[tokio::test]
async fn login_answers_alike_for_an_unknown_email_and_a_wrong_password() {
    let mut h = Harness::new();
    h.users.expect_find_credentials().returning(|email| {
        Ok(
            (email.normalized() == "ada@example.com").then(|| UserCredentials {
                user: registered("ada@example.com"),
                password_hash: "$hash".into(),
            }),
        )
    });
    // An unknown email is verified against no hash: the same work, always false.
    h.passwords
        .expect_verify()
        .withf(|_, phc| phc.is_none())
        .times(2)
        .returning(|_, _| Ok(false));
    h.passwords
        .expect_verify()
        .withf(|_, phc| phc.as_deref() == Some("$hash"))
        .returning(|p, _| Ok(p.expose() == "right password"));
    let (services, _) = h.build();

    let unknown = services
        .users
        .login("bob@example.com", "whatever1")
        .await
        .unwrap_err();
    let wrong = services
        .users
        .login("ADA@example.com", "wrong password")
        .await
        .unwrap_err();
    let malformed = services
        .users
        .login("not-an-email", "whatever1")
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert!(matches!(malformed, LoginError::InvalidCredentials));
    assert_eq!(wrong.class(), ErrorClass::Unauthenticated);
    assert!(
        services
            .users
            .login("ada@example.com", "right password")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn register_and_login_answer_overloaded_when_no_hashing_slot_frees_up() {
    let mut h = Harness::new();
    h.passwords
        .expect_hash()
        .returning(|_| Err(HashError::Overloaded));
    h.passwords
        .expect_verify()
        .returning(|_, _| Err(HashError::Overloaded));
    h.users.expect_find_credentials().returning(|_| Ok(None));
    h.users.expect_create_user().never();
    let (services, _) = h.build();
    let input = RegisterInput {
        email: "ada@example.com".into(),
        password: "correct horse".into(),
        display_name: "Ada".into(),
    };
    let error = services.users.register(input).await.unwrap_err();
    assert!(matches!(error, RegisterError::Overloaded));
    assert_eq!(error.class(), ErrorClass::Overloaded);
    let error = services
        .users
        .login("ada@example.com", "correct horse")
        .await
        .unwrap_err();
    assert!(matches!(error, LoginError::Overloaded));
    assert_eq!(error.class(), ErrorClass::Overloaded);
}

#[tokio::test]
async fn a_profile_changes_field_by_field_and_bad_fields_change_nothing() {
    let mut h = Harness::new();
    let id = UserId::generate();
    h.users
        .expect_update_profile()
        .withf(move |user, change, _| {
            *user == id
                && change.display_name.as_ref().map(|n| n.as_str()) == Some("Ada L.")
                && change.avatar_url == Some(None)
        })
        .times(1)
        .returning(|_, _, _| Ok(Some(registered("ada@example.com"))));
    let (services, _) = h.build();
    let input = ProfileInput {
        display_name: Some("  Ada L. ".into()),
        avatar_url: Some(None),
    };
    assert!(services.users.update_profile(id, input).await.is_ok());

    for (input, named) in [
        (ProfileInput::default(), vec!["body"]),
        (
            ProfileInput {
                display_name: Some(" ".into()),
                avatar_url: Some(Some("ftp://x/a.png".into())),
            },
            vec!["display_name", "avatar_url"],
        ),
    ] {
        let error = services.users.update_profile(id, input).await.unwrap_err();
        assert!(matches!(error, ProfileError::Invalid(_)));
        assert_eq!(fields(&error), named);
    }
}

fn credentials_of(h: &mut Harness, id: UserId) {
    h.users
        .expect_get_credentials()
        .withf(move |user| *user == id)
        .returning(|_| {
            Ok(Some(UserCredentials {
                user: registered("ada@example.com"),
                password_hash: "$old".into(),
            }))
        });
    h.passwords
        .expect_verify()
        .withf(|_, phc| phc.as_deref() == Some("$old"))
        .returning(|p, _| Ok(p.expose() == "old password"));
}

#[tokio::test]
async fn a_password_change_checks_the_current_one_and_keeps_only_the_callers_session() {
    let mut h = Harness::new();
    let id = UserId::generate();
    let session = uuid::Uuid::new_v4();
    credentials_of(&mut h, id);
    h.passwords
        .expect_hash()
        .withf(|p| p.expose() == "new password")
        .times(1)
        .returning(|_| Ok("$new".into()));
    h.users
        .expect_replace_password()
        .withf(move |user, expected, hash, keep, _| {
            *user == id && expected == "$old" && hash == "$new" && *keep == Some(session)
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(true));
    let (services, _) = h.build();

    let wrong = services
        .users
        .change_password(id, Some(session), "wrong password", "new password")
        .await
        .unwrap_err();
    assert!(matches!(wrong, PasswordChangeError::WrongPassword));
    assert_eq!(wrong.class(), ErrorClass::Forbidden);
    let short = services
        .users
        .change_password(id, Some(session), "old password", "short")
        .await
        .unwrap_err();
    assert_eq!(
        short.field_errors().unwrap().errors()[0].field,
        "new_password"
    );
    services
        .users
        .change_password(id, Some(session), "old password", "new password")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_password_change_that_loses_a_race_is_refused() {
    let mut h = Harness::new();
    let id = UserId::generate();
    credentials_of(&mut h, id);
    h.passwords.expect_hash().returning(|_| Ok("$new".into()));
    // Another change replaced the hash between the check and the write.
    h.users
        .expect_replace_password()
        .times(1)
        .returning(|_, _, _, _, _| Ok(false));
    let (services, _) = h.build();
    let error = services
        .users
        .change_password(id, None, "old password", "new password")
        .await
        .unwrap_err();
    assert!(matches!(error, PasswordChangeError::WrongPassword));
}
