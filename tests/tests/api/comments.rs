//! Comments: writing, reading page by page oldest first, editing one's own, deleting, the
//! task's `comment_count`, validation that changes nothing, and the statement budget.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{Answer, TestApp, both_databases};

fn statements(answer: &Answer) -> u32 {
    answer
        .header("x-db-statements")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

async fn comment_count(app: &TestApp, token: &str, task: &str) -> anyhow::Result<Value> {
    Ok(app.get(&format!("/api/v1/tasks/{task}"), token).await?.body["comment_count"].clone())
}

async fn edit(app: &TestApp, path: &str, token: &str, body: &str) -> anyhow::Result<Answer> {
    let body = json!({ "body": body });
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> anyhow::Result<Answer> {
    app.call(Method::DELETE, path, Some(token), None).await
}

async fn comments_are_written_paged_edited_and_deleted(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let editor = app.register("editor").await?;
    let viewer = app.register("viewer").await?;
    let outsider = app.register("outsider").await?;
    let project = app.project(&owner, "COM").await?;
    app.member(&owner, &project, &editor, "editor").await?;
    app.member(&owner, &project, &viewer, "viewer").await?;
    let task = app.task(&owner, &project, "discussed").await?;
    let task = task["id"].as_str().unwrap().to_owned();
    let comments = format!("/api/v1/tasks/{task}/comments");

    let first = app
        .post(
            &comments,
            &editor.token,
            json!({"body": "  **Looks good**\n\n- ship it\t\n"}),
        )
        .await?;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(
        first.text("body"),
        "**Looks good**\n\n- ship it",
        "trimmed, lines kept"
    );
    assert_eq!(first.body["author"]["id"], editor.id.as_str());
    assert_eq!(first.body["task_id"], task.as_str());
    assert_eq!(first.body["project_id"], project.as_str());
    assert_eq!(
        (&first.body["comment_count"], &first.body["edited_at"]),
        (&json!(1), &Value::Null)
    );
    if app.db.dialect() == tasklane_store::Dialect::Postgres {
        assert!(
            statements(&first) <= 3,
            "comment create: {}",
            statements(&first)
        );
    }
    assert_eq!(comment_count(&app, &owner.token, &task).await?, json!(1));
    let board = app
        .get(&format!("/api/v1/projects/{project}/tasks"), &owner.token)
        .await?;
    assert_eq!(
        board.body["items"][0]["comment_count"],
        json!(1),
        "on the board too"
    );

    for (body, why) in [
        (json!({"body": " \n\t "}), "blank"),
        (json!({"body": "x".repeat(10_001)}), "too long"),
        (json!({"body": "nul \u{0} inside"}), "control character"),
    ] {
        let refused = app.post(&comments, &editor.token, body).await?;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {refused:?}"
        );
        assert_eq!(refused.body["errors"][0]["field"], "body", "{why}");
    }
    let longest = app
        .post(&comments, &owner.token, json!({"body": "y".repeat(10_000)}))
        .await?;
    assert_eq!(longest.status, StatusCode::CREATED, "10,000 characters fit");
    let third = app
        .post(&comments, &owner.token, json!({"body": "third"}))
        .await?;
    assert_eq!(
        third.body["comment_count"],
        json!(3),
        "the refused ones changed nothing"
    );

    let page = app
        .get(&format!("{comments}?limit=2"), &viewer.token)
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let ids: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.text("id"), longest.text("id")], "oldest first");
    let cursor = page.text("next_cursor");
    let rest = app
        .get(
            &format!("{comments}?limit=2&cursor={cursor}"),
            &viewer.token,
        )
        .await?;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["items"][0]["id"], third.text("id").as_str());
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let bad = app
        .get(&format!("{comments}?cursor=p1.0.x"), &viewer.token)
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let one = format!("/api/v1/comments/{}", first.text("id"));
    assert_eq!(
        edit(&app, &one, &owner.token, "owners edit nobody's words")
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        edit(&app, &one, &viewer.token, "nor do viewers")
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        edit(&app, &one, &outsider.token, "nor strangers")
            .await?
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        edit(&app, &one, &editor.token, " ").await?.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let edited = edit(&app, &one, &editor.token, "Looks good, shipped").await?;
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    assert_eq!(edited.text("body"), "Looks good, shipped");
    assert!(edited.body["edited_at"].is_string(), "{edited:?}");

    assert_eq!(
        app.post(&comments, &viewer.token, json!({"body": "hi"}))
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&comments, &outsider.token).await?.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        delete(&app, &one, &viewer.token).await?.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &one, &owner.token).await?.status,
        StatusCode::NO_CONTENT,
        "owners moderate"
    );
    assert_eq!(
        delete(&app, &one, &editor.token).await?.status,
        StatusCode::NOT_FOUND,
        "already gone"
    );
    assert_eq!(comment_count(&app, &owner.token, &task).await?, json!(2));

    // An archived project takes no comments; deleting the task deletes its comments.
    let archive = format!("/api/v1/projects/{project}/archive");
    app.call(Method::POST, &archive, Some(&owner.token), None)
        .await?;
    let archived = app
        .post(&comments, &owner.token, json!({"body": "late"}))
        .await?;
    assert_eq!(
        (archived.status, archived.text("code").as_str()),
        (StatusCode::CONFLICT, "archived")
    );
    let restore = format!("/api/v1/projects/{project}/restore");
    app.call(Method::POST, &restore, Some(&owner.token), None)
        .await?;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tasks/{task}"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&comments, &owner.token).await?.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM comments").await?,
        0,
        "the task's comments went with it"
    );
    Ok(())
}

both_databases!(comments_are_written_paged_edited_and_deleted);
