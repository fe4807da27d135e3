//! Bad input over HTTP: every validation rule at its boundaries (422 with the field), and
//! malformed requests (400), oversized bodies (413). None changes anything; none is a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{TestApp, both_databases};

/// Sends `body` and checks the status, and for 422 that `field` is the one reported.
async fn expect(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
    want: StatusCode,
    field: Option<&str>,
) -> anyhow::Result<()> {
    let answer = app
        .call(method.clone(), path, token, Some(body.clone()))
        .await?;
    assert_eq!(answer.status, want, "{method} {path} {body}: {answer:?}");
    if let Some(field) = field {
        assert_eq!(answer.body["errors"][0]["field"], field, "{body}");
        assert_eq!(answer.text("code"), "validation_failed");
    }
    Ok(())
}

async fn every_validation_rule_is_checked_at_its_boundaries(app: TestApp) -> anyhow::Result<()> {
    const OK: StatusCode = StatusCode::CREATED;
    const BAD: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
    let register = |email: &str, password: &str, name: &str| json!({"email": email, "password": password, "display_name": name});
    let r = "/api/v1/auth/register";
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("a@x.io", "1234567", "A"),
        BAD,
        Some("password"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("a@x.io", &"p".repeat(129), "A"),
        BAD,
        Some("password"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("not-an-email", "12345678", "A"),
        BAD,
        Some("email"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("a@x.io", "12345678", &"n".repeat(101)),
        BAD,
        Some("display_name"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("a@x.io", "12345678", " "),
        BAD,
        Some("display_name"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("b@x.io", &"p".repeat(128), &"n".repeat(100)),
        OK,
        None,
    )
    .await?;
    expect(
        &app,
        Method::POST,
        r,
        None,
        register("c@x.io", "12345678", "C"),
        OK,
        None,
    )
    .await?;

    let owner = app.register("owner").await?;
    let t = Some(owner.token.as_str());
    let p = "/api/v1/projects";
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "A", "name": "n"}),
        BAD,
        Some("key"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "A1234567890", "name": "n"}),
        BAD,
        Some("key"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "1AB", "name": "n"}),
        BAD,
        Some("key"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "AB", "name": "n".repeat(256)}),
        BAD,
        Some("name"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "AB", "name": "n", "description": "d".repeat(10_001)}),
        BAD,
        Some("description"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        p,
        t,
        json!({"key": "A123456789", "name": "n".repeat(255), "description": "d".repeat(10_000)}),
        OK,
        None,
    )
    .await?;
    let project = app.project(&owner, "VAL").await?;

    let tasks = format!("/api/v1/projects/{project}/tasks");
    let title = |title: String| json!({"title": title});
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        title(String::new()),
        BAD,
        Some("title"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        title("  ".into()),
        BAD,
        Some("title"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        title("x".repeat(501)),
        BAD,
        Some("title"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        title("é".repeat(500)),
        OK,
        None,
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "story_points": 101}),
        BAD,
        Some("story_points"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "story_points": -1}),
        BAD,
        Some("story_points"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "story_points": 0}),
        OK,
        None,
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "story_points": 100}),
        OK,
        None,
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "description": "d".repeat(100_001)}),
        BAD,
        Some("description"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "description": "d".repeat(100_000)}),
        OK,
        None,
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "status_id": uuid::Uuid::new_v4()}),
        BAD,
        Some("status_id"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "parent_id": uuid::Uuid::new_v4()}),
        BAD,
        Some("parent_id"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &tasks,
        t,
        json!({"title": "t", "assignee_id": uuid::Uuid::new_v4()}),
        BAD,
        Some("assignee_id"),
    )
    .await?;

    let batch = format!("/api/v1/projects/{project}/tasks/batch");
    let many = |n: usize| json!({"tasks": (0..n).map(|i| json!({"title": format!("b{i}")})).collect::<Vec<_>>()});
    expect(&app, Method::POST, &batch, t, many(0), BAD, Some("tasks")).await?;
    expect(&app, Method::POST, &batch, t, many(501), BAD, Some("tasks")).await?;
    expect(&app, Method::POST, &batch, t, many(500), OK, None).await?;
    let mut one_bad = many(3);
    one_bad["tasks"][2]["title"] = json!("");
    expect(
        &app,
        Method::POST,
        &batch,
        t,
        one_bad,
        BAD,
        Some("tasks[2].title"),
    )
    .await?;

    let statuses = format!("/api/v1/projects/{project}/statuses");
    expect(
        &app,
        Method::POST,
        &statuses,
        t,
        json!({"name": "s".repeat(51), "category": "todo"}),
        BAD,
        Some("name"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &statuses,
        t,
        json!({"name": "s".repeat(50), "category": "todo", "position": 6}),
        BAD,
        Some("position"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &statuses,
        t,
        json!({"name": "s".repeat(50), "category": "todo", "position": 5}),
        OK,
        None,
    )
    .await?;

    for limit in ["0", "201"] {
        let answer = app
            .get(
                &format!("/api/v1/projects/{project}/tasks?limit={limit}"),
                &owner.token,
            )
            .await?;
        assert_eq!(
            (answer.status, answer.body["errors"][0]["field"].as_str()),
            (BAD, Some("limit"))
        );
    }
    for limit in ["1", "200"] {
        assert_eq!(
            app.get(
                &format!("/api/v1/projects/{project}/tasks?limit={limit}"),
                &owner.token
            )
            .await?
            .status,
            StatusCode::OK
        );
    }
    let cursor = app
        .get(
            &format!("/api/v1/projects/{project}/tasks?cursor=garbage"),
            &owner.token,
        )
        .await?;
    assert_eq!(cursor.status, BAD);

    let task = app.task(&owner, &project, "edit me").await?;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    expect(&app, Method::PATCH, &path, t, json!({}), BAD, Some("body")).await?;
    expect(
        &app,
        Method::PATCH,
        &path,
        t,
        json!({"title": ""}),
        BAD,
        Some("title"),
    )
    .await?;
    expect(
        &app,
        Method::PATCH,
        &path,
        t,
        json!({"parent_id": task["id"]}),
        BAD,
        Some("parent_id"),
    )
    .await?;
    expect(
        &app,
        Method::POST,
        &format!("{path}/move"),
        t,
        json!({}),
        BAD,
        Some("body"),
    )
    .await?;
    Ok(())
}

async fn malformed_requests_are_400_and_oversized_bodies_413_never_500(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "MAL").await?;
    let tasks = format!("/api/v1/projects/{project}/tasks");
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url(&tasks))
            .bearer_auth(&owner.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, content_type) in [
        ("{not json", "application/json"),
        ("{\"title\": 42}", "application/json"),
        (
            "{\"title\": \"t\", \"priority\": \"urgent\"}",
            "application/json",
        ),
        (
            "{\"title\": \"t\", \"titel\": \"typo\"}",
            "application/json",
        ),
        (
            "{\"title\": \"t\", \"due_date\": \"tomorrow\"}",
            "application/json",
        ),
        ("{\"title\": \"t\"}", "text/plain"),
    ] {
        let response = raw(body, content_type).await?;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{body} as {content_type}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let big = "x".repeat(1024 * 1024 + 1);
    let response = app
        .client
        .post(app.url(&tasks))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body(format!("{{\"title\": \"{big}\"}}"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    for path in ["/api/v1/tasks/not-a-uuid", "/api/v1/projects/123/tasks"] {
        let answer = app.get(path, &owner.token).await?;
        assert_eq!(
            (answer.status, answer.text("code").as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{path}"
        );
    }
    let answer = app
        .get(
            &format!("/api/v1/projects/{project}/tasks?priority=urgent"),
            &owner.token,
        )
        .await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let bad_if_match = app
        .call_with(
            Method::PATCH,
            &format!("/api/v1/projects/{project}"),
            Some(&owner.token),
            Some(json!({"name": "x"})),
            &[("if-match", "soon")],
        )
        .await?;
    assert_eq!(bad_if_match.status, StatusCode::BAD_REQUEST);
    let tasks_left = app.get(&tasks, &owner.token).await?;
    assert_eq!(
        tasks_left.body["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    Ok(())
}

both_databases!(
    every_validation_rule_is_checked_at_its_boundaries,
    malformed_requests_are_400_and_oversized_bodies_413_never_500,
);
