//! Labels: a project's labels (create, rename, recolour, delete), unique names ignoring case,
//! setting a task's labels all or nothing, labels on every task response, and the board page
//! staying at two statements with them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{Answer, TestApp, both_databases};

fn statements(answer: &Answer) -> u32 {
    answer
        .header("x-db-statements")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

fn names(labels: &Value) -> Vec<&str> {
    labels
        .as_array()
        .map(|l| l.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default()
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> anyhow::Result<Answer> {
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

async fn labels_are_managed_set_on_tasks_and_shown_everywhere(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let editor = app.register("editor").await?;
    let viewer = app.register("viewer").await?;
    let project = app.project(&owner, "LAB").await?;
    let other = app.project(&owner, "OTH").await?;
    app.member(&owner, &project, &editor, "editor").await?;
    app.member(&owner, &project, &viewer, "viewer").await?;
    let labels = format!("/api/v1/projects/{project}/labels");

    let bug = app
        .post(
            &labels,
            &editor.token,
            json!({"name": " Bug ", "color": "#D73A4A"}),
        )
        .await?;
    assert_eq!(bug.status, StatusCode::CREATED, "{bug:?}");
    assert_eq!(
        (bug.text("name"), bug.text("color")),
        ("Bug".into(), "#d73a4a".into())
    );
    let ux = app
        .post(
            &labels,
            &owner.token,
            json!({"name": "UX", "color": "#00ff00"}),
        )
        .await?;
    assert_eq!(ux.status, StatusCode::CREATED);
    for (body, field) in [
        (json!({"name": "bug", "color": "#000000"}), "name"),
        (json!({"name": " ", "color": "#000000"}), "name"),
        (json!({"name": "x".repeat(51), "color": "#000000"}), "name"),
        (json!({"name": "Ok", "color": "red"}), "color"),
        (json!({"name": "Ok", "color": "#12345"}), "color"),
    ] {
        let refused = app.post(&labels, &owner.token, body.clone()).await?;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(refused.body["errors"][0]["field"], field, "{body}");
    }
    let refused = app
        .post(
            &labels,
            &viewer.token,
            json!({"name": "V", "color": "#000000"}),
        )
        .await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let listed = app.get(&labels, &viewer.token).await?;
    assert_eq!(
        names(&listed.body),
        ["Bug", "UX"],
        "creation order; refusals changed nothing"
    );

    let bug_path = format!("/api/v1/labels/{}", bug.text("id"));
    let taken = patch(&app, &bug_path, &editor.token, json!({"name": "ux"})).await?;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(taken.body["errors"][0]["field"], "name");
    let same = patch(&app, &bug_path, &editor.token, json!({"name": "BUG"})).await?;
    assert_eq!(
        same.status,
        StatusCode::OK,
        "its own name in another case is free"
    );
    let recoloured = patch(&app, &bug_path, &editor.token, json!({"color": "#ABCDEF"})).await?;
    assert_eq!(
        (recoloured.text("name"), recoloured.text("color")),
        ("BUG".into(), "#abcdef".into())
    );

    // A task's labels: all of this project, or nothing changes.
    let task = app.task(&owner, &project, "labelled").await?;
    let task_path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    assert_eq!(task["labels"], json!([]));
    let foreign = app
        .post(
            &format!("/api/v1/projects/{other}/labels"),
            &owner.token,
            json!({"name": "Elsewhere", "color": "#111111"}),
        )
        .await?;
    let mixed = json!({"label_ids": [bug.text("id"), foreign.text("id")]});
    let refused = patch(&app, &task_path, &editor.token, mixed).await?;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert_eq!(refused.body["errors"][0]["field"], "label_ids");
    let too_many: Vec<String> = (0..21).map(|_| bug.text("id")).collect();
    let refused = patch(
        &app,
        &task_path,
        &editor.token,
        json!({"label_ids": too_many}),
    )
    .await?;
    assert_eq!(
        refused.body["errors"][0]["field"], "label_ids",
        "21 ids as sent"
    );
    let unchanged = app.get(&task_path, &owner.token).await?;
    assert_eq!(
        (&unchanged.body["labels"], &unchanged.body["row_version"]),
        (&json!([]), &json!(1))
    );

    let both = json!({"label_ids": [ux.text("id"), bug.text("id"), ux.text("id")]});
    let set = patch(&app, &task_path, &editor.token, both).await?;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    assert_eq!(
        names(&set.body["labels"]),
        ["BUG", "UX"],
        "once each, in creation order"
    );
    assert_eq!(set.body["labels"][0]["color"], "#abcdef");
    assert_eq!(
        app.get(&task_path, &viewer.token).await?.body["labels"],
        set.body["labels"]
    );

    for i in 0..30 {
        app.task(&owner, &project, &format!("more {i}")).await?;
    }
    let board = app
        .get(
            &format!("/api/v1/projects/{project}/tasks?limit=100"),
            &owner.token,
        )
        .await?;
    let items = board.body["items"].as_array().unwrap();
    let labelled = items.iter().find(|t| t["id"] == task["id"]).unwrap();
    assert_eq!(
        names(&labelled["labels"]),
        ["BUG", "UX"],
        "on the board page"
    );
    assert!(
        statements(&board) <= 2,
        "board page with labels: {}",
        statements(&board)
    );

    let only_ux = patch(
        &app,
        &task_path,
        &editor.token,
        json!({"label_ids": [ux.text("id")]}),
    )
    .await?;
    assert_eq!(names(&only_ux.body["labels"]), ["UX"]);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/labels/{}", ux.text("id")),
            Some(&editor.token),
            None,
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&task_path, &owner.token).await?.body["labels"],
        json!([]),
        "off every task"
    );
    assert_eq!(names(&app.get(&labels, &owner.token).await?.body), ["BUG"]);
    let outsider = app.register("outsider").await?;
    assert_eq!(
        app.get(&labels, &outsider.token).await?.status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

both_databases!(labels_are_managed_set_on_tasks_and_shown_everywhere);
