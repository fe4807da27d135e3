//! Tasks: every route's success path, idempotent creation, `If-Match`, project restoration,
//! statements per request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{TestApp, both_databases};

fn statements(answer: &tasklane_tests::Answer) -> u32 {
    answer
        .header("x-db-statements")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

async fn tasks_are_created_listed_read_updated_moved_archived_unarchived_and_deleted(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let ed = app.register("ed").await?;
    let project = app.project(&owner, "TSK").await?;
    app.member(&owner, &project, &ed, "editor").await?;
    let statuses = app
        .get(
            &format!("/api/v1/projects/{project}/statuses"),
            &owner.token,
        )
        .await?
        .body;
    let status = |i: usize| statuses[i]["id"].as_str().unwrap().to_owned();

    let body = json!({
        "title": "Write the docs", "description": "All of them", "priority": "high", "task_type": "story",
        "story_points": 5, "due_date": "2027-01-31", "assignee_id": ed.id,
    });
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &owner.token,
            body,
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.text("id");
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/tasks/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        (
            created.text("key").as_str(),
            created.body["number"].as_u64()
        ),
        ("TSK-1", Some(1))
    );
    assert_eq!(created.body["status"]["category"], "todo");
    assert_eq!(
        (
            created.text("priority").as_str(),
            created.text("task_type").as_str()
        ),
        ("high", "story")
    );
    assert_eq!(created.body["assignee"]["id"], ed.id);
    assert_eq!(created.body["reporter"]["id"], owner.id);
    assert_eq!(created.body["due_date"], "2027-01-31");

    let batch = app.post(
        &format!("/api/v1/projects/{project}/tasks/batch"),
        &ed.token,
        json!({"tasks": [{"title": "b1"}, {"title": "b2", "status_id": status(1)}, {"title": "child", "parent_id": id}]}),
    ).await?;
    assert_eq!(batch.status, StatusCode::CREATED);
    let keys: Vec<&str> = batch.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["TSK-2", "TSK-3", "TSK-4"]);

    let read = app.get(&format!("/api/v1/tasks/{id}"), &ed.token).await?;
    assert_eq!(
        (read.status, read.body["subtask_count"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let by_key = app
        .get(
            &format!("/api/v1/projects/{project}/tasks/by-key/tsk-3"),
            &owner.token,
        )
        .await?;
    assert_eq!(by_key.text("title"), "b2");
    let board = app
        .get(
            &format!("/api/v1/projects/{project}/tasks?limit=2"),
            &owner.token,
        )
        .await?;
    assert_eq!(board.body["items"].as_array().unwrap().len(), 2);
    let rest = app
        .get(
            &format!(
                "/api/v1/projects/{project}/tasks?limit=2&cursor={}",
                board.text("next_cursor")
            ),
            &owner.token,
        )
        .await?;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 2);
    assert!(rest.body["next_cursor"].is_null());
    let filtered = app
        .get(
            &format!(
                "/api/v1/projects/{project}/tasks?assignee_id={}&priority=high&order=updated",
                ed.id
            ),
            &owner.token,
        )
        .await?;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/v1/tasks/{id}");
    let patch = json!({"title": "Write all the docs", "description": null, "story_points": null, "status_id": status(4)});
    let updated = app
        .call_with(
            Method::PATCH,
            &path,
            Some(&ed.token),
            Some(patch.clone()),
            &[("if-match", "\"1\"")],
        )
        .await?;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");
    assert!(updated.body["description"].is_null() && updated.body["story_points"].is_null());
    assert_eq!(updated.body["status"]["category"], "done");
    assert!(!updated.body["completed_at"].is_null());
    assert_eq!(updated.header("etag"), Some("\"2\""));
    let stale = app
        .call_with(
            Method::PATCH,
            &path,
            Some(&ed.token),
            Some(patch),
            &[("if-match", "\"1\"")],
        )
        .await?;
    assert_eq!(
        (stale.status, stale.text("code").as_str()),
        (StatusCode::PRECONDITION_FAILED, "version_mismatch")
    );

    let b1 = batch.body["items"][0]["id"].as_str().unwrap().to_owned();
    let b2 = batch.body["items"][1]["id"].as_str().unwrap().to_owned();
    let moved = app
        .post(
            &format!("/api/v1/tasks/{b1}/move"),
            &ed.token,
            json!({"status_id": status(1)}),
        )
        .await?;
    assert_eq!(moved.body["status"]["id"], status(1));
    let before = app
        .post(
            &format!("/api/v1/tasks/{b1}/move"),
            &ed.token,
            json!({"before_id": b2}),
        )
        .await?;
    assert!(
        before.text("rank")
            < app
                .get(&format!("/api/v1/tasks/{b2}"), &ed.token)
                .await?
                .text("rank")
    );

    let archived = app
        .call(
            Method::POST,
            &format!("{path}/archive"),
            Some(&ed.token),
            None,
        )
        .await?;
    assert!(!archived.body["archived_at"].is_null());
    let unarchived = app
        .call(
            Method::POST,
            &format!("{path}/unarchive"),
            Some(&ed.token),
            None,
        )
        .await?;
    assert!(unarchived.body["archived_at"].is_null());
    let aggregation = app
        .get(
            &format!("/api/v1/projects/{project}/aggregation"),
            &owner.token,
        )
        .await?;
    assert_eq!(
        (
            aggregation.body["total"].as_u64(),
            aggregation.body["done"].as_u64()
        ),
        (Some(4), Some(1))
    );

    let deleted = app
        .call(Method::DELETE, &path, Some(&ed.token), None)
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&path, &ed.token).await?.status,
        StatusCode::NOT_FOUND
    );
    let aggregation = app
        .get(
            &format!("/api/v1/projects/{project}/aggregation"),
            &owner.token,
        )
        .await?;
    assert_eq!(
        aggregation.body["total"], 2,
        "the task and its sub-task are gone"
    );
    Ok(())
}

async fn idempotent_creation_replays_the_first_response_and_refuses_another_body(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "IDM").await?;
    let path = format!("/api/v1/projects/{project}/tasks");
    let send = |body: Value, key: &'static str| {
        let (app, token, path) = (&app, owner.token.clone(), path.clone());
        async move {
            app.call_with(
                Method::POST,
                &path,
                Some(&token),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = send(json!({"title": "once"}), "key-1").await?;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = send(json!({"title": "once"}), "key-1").await?;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.body, first.body, "the first response, byte for byte");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let mismatch = send(json!({"title": "twice"}), "key-1").await?;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch.body["errors"][0]["field"], "Idempotency-Key");
    let list = app
        .get(&format!("/api/v1/projects/{project}/tasks"), &owner.token)
        .await?;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "created once"
    );

    // A failed request releases its key: the corrected retry proceeds.
    let failed = send(json!({"title": ""}), "key-2").await?;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let retried = send(json!({"title": "fixed"}), "key-2").await?;
    assert_eq!(retried.status, StatusCode::CREATED);
    let too_long = "k".repeat(129);
    let refused = app
        .call_with(
            Method::POST,
            &path,
            Some(&owner.token),
            Some(json!({"title": "x"})),
            &[("idempotency-key", too_long.as_str())],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    Ok(())
}

async fn creating_a_task_in_an_archived_project_restores_it(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "ARC").await?;
    app.call(
        Method::POST,
        &format!("/api/v1/projects/{project}/archive"),
        Some(&owner.token),
        None,
    )
    .await?;
    app.task(&owner, &project, "back to work").await?;
    let read = app
        .get(&format!("/api/v1/projects/{project}"), &owner.token)
        .await?;
    assert!(read.body["archived_at"].is_null(), "{:?}", read.body);
    Ok(())
}

async fn requests_stay_within_their_statement_budgets(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "BUD").await?;
    let tasks: Vec<Value> = (0..100)
        .map(|i| json!({"title": format!("t{i}"), "assignee_id": owner.id}))
        .collect();
    let batch = app
        .post(
            &format!("/api/v1/projects/{project}/tasks/batch"),
            &owner.token,
            json!({"tasks": tasks}),
        )
        .await?;
    assert_eq!(batch.status, StatusCode::CREATED);
    let first = batch.body["items"][0]["id"].as_str().unwrap().to_owned();
    let second = batch.body["items"][1]["id"].as_str().unwrap().to_owned();

    let create = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &owner.token,
            json!({"title": "counted"}),
        )
        .await?;
    let id = create.text("id");
    let moved = app
        .post(
            &format!("/api/v1/tasks/{id}/move"),
            &owner.token,
            json!({"after_id": first, "before_id": second}),
        )
        .await?;
    let board = app
        .get(
            &format!("/api/v1/projects/{project}/tasks?limit=100"),
            &owner.token,
        )
        .await?;
    assert_eq!(board.body["items"].as_array().unwrap().len(), 100);
    let (create, moved, board) = (statements(&create), statements(&moved), statements(&board));
    eprintln!("statements per request: create {create}, move {moved}, board page of 100 {board}");
    // Each write also logs its events. On PostgreSQL the statement that writes the task does
    // it: a creation is the context read and that statement (2), a move the lock, the context
    // read and that statement (3). On SQLite the log takes one statement more than the budget of
    // 5 (the one more the event log allows).
    let (create_budget, change_budget) = if app.db.dialect() == tasklane_store::Dialect::Postgres {
        (2, 3)
    } else {
        (6, 5)
    };
    assert!(
        create <= create_budget && moved <= change_budget,
        "create {create}, move {moved}"
    );
    assert!(board <= 2, "board page {board}");
    Ok(())
}

both_databases!(
    tasks_are_created_listed_read_updated_moved_archived_unarchived_and_deleted,
    idempotent_creation_replays_the_first_response_and_refuses_another_body,
    creating_a_task_in_an_archived_project_restores_it,
    requests_stay_within_their_statement_budgets,
);
