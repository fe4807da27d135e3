//! Authentication: register, login, refresh with rotation and reuse detection, logout,
//! WebSocket tickets, `/me` (profile and password change), and every way a token can be refused.

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

async fn refresh(app: &TestApp, token: &str) -> anyhow::Result<tasklane_tests::Answer> {
    let body = json!({ "refresh_token": token });
    app.call(Method::POST, "/api/v1/auth/refresh", None, Some(body))
        .await
}

async fn login(app: &TestApp, password: &str) -> anyhow::Result<tasklane_tests::Answer> {
    let body = json!({"email": "ada@example.com", "password": password});
    app.call(Method::POST, "/api/v1/auth/login", None, Some(body))
        .await
}

async fn a_profile_changes_and_members_see_it(app: TestApp) -> anyhow::Result<()> {
    let ada = app.register("ada").await?;
    let patch = |body: serde_json::Value| {
        app.call(Method::PATCH, "/api/v1/me", Some(&ada.token), Some(body))
    };
    let avatar = "https://cdn.example.com/ada.png";
    let changed = patch(json!({"display_name": "  Ada L. ", "avatar_url": avatar})).await?;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        (changed.text("display_name"), changed.text("avatar_url")),
        ("Ada L.".to_owned(), avatar.to_owned())
    );
    for (body, field) in [
        (json!({}), "body"),
        (json!({"display_name": " "}), "display_name"),
        (
            json!({"avatar_url": "ftp://cdn.example.com/a.png"}),
            "avatar_url",
        ),
        (json!({"avatar_url": "https://a b"}), "avatar_url"),
    ] {
        let refused = patch(body.clone()).await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{body}: {refused:?}"
        );
    }
    let me = app.get("/api/v1/me", &ada.token).await?;
    assert_eq!(me.body, changed.body, "refused changes changed nothing");

    let bob = app.register("bob").await?;
    let project = app.project(&bob, "TEAM").await?;
    let members = format!("/api/v1/projects/{project}/members");
    let added = app
        .post(
            &members,
            &bob.token,
            json!({"email": "ada@example.com", "role": "editor"}),
        )
        .await?;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    let cleared = patch(json!({"avatar_url": null})).await?;
    assert_eq!(cleared.body["avatar_url"], serde_json::Value::Null);
    let listed = app.get(&members, &bob.token).await?;
    let ada_there = listed
        .body
        .as_array()
        .and_then(|items| items.iter().find(|m| m["user"]["id"] == ada.id.as_str()))
        .cloned()
        .expect("ada is a member");
    assert_eq!(ada_there["user"]["display_name"], "Ada L.");
    assert_eq!(ada_there["user"]["avatar_url"], serde_json::Value::Null);

    let anonymous = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            None,
            Some(json!({"display_name": "X"})),
        )
        .await?;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn a_password_change_ends_every_other_session(app: TestApp) -> anyhow::Result<()> {
    let here = app.register("ada").await?;
    let elsewhere = login(&app, "correct horse").await?;
    assert_eq!(elsewhere.status, StatusCode::OK);
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        app.call(
            Method::POST,
            "/api/v1/me/password",
            Some(&here.token),
            Some(body),
        )
    };

    let wrong = change("wrong horse", "battery staple").await?;
    assert_eq!(
        (wrong.status, wrong.text("code").as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let short = change("correct horse", "short").await?;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.body["errors"][0]["field"], "new_password");
    assert_eq!(
        login(&app, "correct horse").await?.status,
        StatusCode::OK,
        "refused changes changed nothing"
    );

    let changed = change("correct horse", "battery staple").await?;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{changed:?}");
    assert_eq!(
        refresh(&app, &elsewhere.text("refresh_token"))
            .await?
            .status,
        StatusCode::UNAUTHORIZED,
        "the other session ends at its next refresh"
    );
    let kept = refresh(&app, &here.refresh).await?;
    assert_eq!(
        kept.status,
        StatusCode::OK,
        "the session that changed it goes on"
    );
    // The session keeps its name across refreshes: a change from the refreshed token keeps it.
    let third = login(&app, "battery staple").await?;
    let body = json!({"current_password": "battery staple", "new_password": "correct horse"});
    let again = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            Some(&kept.text("access_token")),
            Some(body),
        )
        .await?;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, &kept.text("refresh_token")).await?.status,
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, &third.text("refresh_token")).await?.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "battery staple").await?.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&app, "correct horse").await?.status, StatusCode::OK);
    Ok(())
}

async fn wrong_current_passwords_count_against_the_credential_limit(
    app: TestApp,
) -> anyhow::Result<()> {
    let ada = app.register("ada").await?;
    let wrong = json!({"current_password": "wrong horse", "new_password": "battery staple"});
    for attempt in 2..=31 {
        let answer = app
            .call(
                Method::POST,
                "/api/v1/me/password",
                Some(&ada.token),
                Some(wrong.clone()),
            )
            .await?;
        if attempt == 31 {
            assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
            assert_eq!(answer.text("code"), "rate_limited");
        } else {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "attempt {attempt}");
        }
    }
    assert_eq!(
        login(&app, "correct horse").await?.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same limit as logins"
    );
    Ok(())
}

both_databases!(
    a_profile_changes_and_members_see_it,
    a_password_change_ends_every_other_session,
    wrong_current_passwords_count_against_the_credential_limit,
    credential_attempts_are_rate_limited_per_address,
    register_login_me_refresh_rotation_reuse_and_logout,
    tokens_are_refused_when_missing_malformed_foreign_or_refresh_tokens,
    a_websocket_ticket_is_issued_to_signed_in_users,
);
