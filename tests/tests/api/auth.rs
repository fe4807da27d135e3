//! Authentication: register, login, refresh with rotation and reuse detection, logout,
//! WebSocket tickets, `/me`, and every way a token can be refused.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tasklane_tests::{TestApp, both_databases};

async fn register_login_me_refresh_rotation_reuse_and_logout(app: TestApp) -> anyhow::Result<()> {
    let ada = app.register("ada").await?;
    let me = app.get("/api/v1/me", &ada.token).await?;
    assert_eq!(
        (me.status, me.text("email").as_str()),
        (StatusCode::OK, "ada@example.com")
    );

    let taken =
        json!({"email": "ADA@example.com", "password": "correct horse", "display_name": "Ada 2"});
    let answer = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(taken))
        .await?;
    assert_eq!(
        (answer.status, answer.text("code").as_str()),
        (StatusCode::CONFLICT, "email_taken")
    );

    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "Ada@Example.com", "password": "correct horse"})),
        )
        .await?;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(
        (
            login.text("token_type").as_str(),
            login.body["expires_in"].as_u64()
        ),
        ("Bearer", Some(900))
    );

    // Same answer for a wrong password and an unknown email.
    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ada@example.com", "password": "wrong horse"})),
        )
        .await?;
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "bob@example.com", "password": "wrong horse"})),
        )
        .await?;
    assert_eq!(
        (wrong.status, unknown.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

    let refreshed = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": ada.refresh})),
        )
        .await?;
    assert_eq!(refreshed.status, StatusCode::OK);
    let next = refreshed.text("refresh_token");
    assert_ne!(next, ada.refresh);
    assert_eq!(
        app.get("/api/v1/me", &refreshed.text("access_token"))
            .await?
            .status,
        StatusCode::OK
    );
    // The old token again: refused, and the whole session (the new token too) ends.
    let reused = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": ada.refresh})),
        )
        .await?;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    let after_reuse = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": next})),
        )
        .await?;
    assert_eq!(after_reuse.status, StatusCode::UNAUTHORIZED);

    let session = login.text("refresh_token");
    let out = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": session})),
        )
        .await?;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after_logout = app
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": session})),
        )
        .await?;
    assert_eq!(after_logout.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn tokens_are_refused_when_missing_malformed_foreign_or_refresh_tokens(
    app: TestApp,
) -> anyhow::Result<()> {
    let ada = app.register("ada").await?;
    let refused = [
        app.call(Method::GET, "/api/v1/me", None, None).await?,
        app.call_with(
            Method::GET,
            "/api/v1/me",
            None,
            None,
            &[("authorization", "Basic YWRhOng=")],
        )
        .await?,
        app.call(Method::GET, "/api/v1/me", Some("not-a-token"), None)
            .await?,
        app.call(Method::GET, "/api/v1/me", Some(&ada.refresh), None)
            .await?,
        app.call(
            Method::GET,
            "/api/v1/projects",
            Some(&format!("{}x", ada.token)),
            None,
        )
        .await?,
    ];
    for answer in refused {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert_eq!(answer.text("code"), "unauthenticated");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
    Ok(())
}

async fn a_websocket_ticket_is_issued_to_signed_in_users(app: TestApp) -> anyhow::Result<()> {
    let ada = app.register("ada").await?;
    let ticket = app
        .call(
            Method::POST,
            "/api/v1/auth/ws-ticket",
            Some(&ada.token),
            None,
        )
        .await?;
    assert_eq!(ticket.status, StatusCode::OK);
    assert_eq!(ticket.body["expires_in"], 30);
    assert_eq!(ticket.text("ticket").len(), 64);
    let anonymous = app
        .call(Method::POST, "/api/v1/auth/ws-ticket", None, None)
        .await?;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn credential_attempts_are_rate_limited_per_address(app: TestApp) -> anyhow::Result<()> {
    app.register("ada").await?;
    let wrong = json!({"email": "ada@example.com", "password": "wrong horse"});
    let mut limited = None;
    for attempt in 2..=31 {
        let answer = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(wrong.clone()),
            )
            .await?;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((attempt, answer));
            break;
        }
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let (attempt, answer) = limited.expect("the 31st attempt in a minute is refused");
    assert_eq!(attempt, 31, "30 attempts a minute are allowed");
    assert_eq!(answer.text("code"), "rate_limited");
    assert_eq!(answer.header("retry-after"), Some("60"));
    Ok(())
}

both_databases!(
    credential_attempts_are_rate_limited_per_address,
    register_login_me_refresh_rotation_reuse_and_logout,
    tokens_are_refused_when_missing_malformed_foreign_or_refresh_tokens,
    a_websocket_ticket_is_issued_to_signed_in_users,
);
