//! Richer listings: unassigned, by reporter, by parent, by any of several labels, by due-date
//! range, ordered by due date or priority with keyset cursors; projects by derived status.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{Answer, Session, TestApp, both_databases};

fn statements(answer: &Answer) -> u32 {
    answer
        .header("x-db-statements")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

fn titles(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn create(
    app: &TestApp,
    who: &Session,
    project: &str,
    body: Value,
) -> anyhow::Result<String> {
    let answer = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &who.token,
            body,
        )
        .await?;
    anyhow::ensure!(answer.status == StatusCode::CREATED, "{answer:?}");
    Ok(answer.text("id"))
}

async fn tasks_are_filtered_and_ordered_by_due_date_and_priority(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let editor = app.register("editor").await?;
    let project = app.project(&owner, "QRY").await?;
    app.member(&owner, &project, &editor, "editor").await?;
    let labels = format!("/api/v1/projects/{project}/labels");
    let bug = app
        .post(
            &labels,
            &owner.token,
            json!({"name": "Bug", "color": "#ff0000"}),
        )
        .await?
        .text("id");
    let ux = app
        .post(
            &labels,
            &owner.token,
            json!({"name": "UX", "color": "#00ff00"}),
        )
        .await?
        .text("id");
    let e = editor.id.as_str();
    let t1 = create(
        &app,
        &owner,
        &project,
        json!({"title": "t1", "assignee_id": e, "due_date": "2026-12-01", "priority": "high"}),
    )
    .await?;
    let t2 = create(
        &app,
        &owner,
        &project,
        json!({"title": "t2", "due_date": "2026-12-05", "priority": "highest", "parent_id": t1}),
    )
    .await?;
    let t3 = create(
        &app,
        &owner,
        &project,
        json!({"title": "t3", "priority": "low"}),
    )
    .await?;
    let t4 = create(
        &app,
        &editor,
        &project,
        json!({"title": "t4", "assignee_id": e, "due_date": "2026-12-03"}),
    )
    .await?;
    for (task, ids) in [(&t1, vec![&bug]), (&t3, vec![&ux]), (&t4, vec![&bug, &ux])] {
        let set = app
            .call(
                Method::PATCH,
                &format!("/api/v1/tasks/{task}"),
                Some(&owner.token),
                Some(json!({"label_ids": ids})),
            )
            .await?;
        assert_eq!(set.status, StatusCode::OK, "{set:?}");
    }
    let _ = &t2;
    let list = |query: String| {
        let path = format!("/api/v1/projects/{project}/tasks?{query}");
        let token = owner.token.clone();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    let sorted = |answer: &Answer| {
        let mut t = titles(answer);
        t.sort();
        t
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("assignee_id=none".into(), vec!["t2", "t3"]),
        (format!("assignee_id={e}"), vec!["t1", "t4"]),
        (format!("reporter_id={e}"), vec!["t4"]),
        (format!("parent_id={t1}"), vec!["t2"]),
        (format!("label_id={bug}"), vec!["t1", "t4"]),
        (
            format!("label_id={bug}&label_id={ux}"),
            vec!["t1", "t3", "t4"],
        ),
        ("due_before=2026-12-03".into(), vec!["t1", "t4"]),
        ("due_after=2026-12-03".into(), vec!["t2", "t4"]),
        (
            "due_after=2026-12-02&due_before=2026-12-04".into(),
            vec!["t4"],
        ),
        (format!("assignee_id=none&label_id={ux}"), vec!["t3"]),
    ];
    for (query, expected) in cases {
        let answer = list(query.clone()).await?;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {answer:?}");
        assert_eq!(sorted(&answer), expected, "{query}");
        assert!(
            statements(&answer) <= 2,
            "{query}: {} statements",
            statements(&answer)
        );
    }

    let first = list("order=due&limit=2".into()).await?;
    assert_eq!(titles(&first), ["t1", "t4"], "soonest due first");
    let rest = list(format!("cursor={}&limit=2", first.text("next_cursor"))).await?;
    assert_eq!(
        titles(&rest),
        ["t2", "t3"],
        "undated last; the cursor keeps the order"
    );
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let first = list("order=priority&limit=3".into()).await?;
    assert_eq!(titles(&first), ["t2", "t1", "t4"], "highest first");
    let rest = list(format!("cursor={}", first.text("next_cursor"))).await?;
    assert_eq!(titles(&rest), ["t3"]);

    for (query, field) in [
        ("due_before=tomorrow", "due_before"),
        ("due_after=2026-13-01", "due_after"),
        ("due_before=2026-1-5", "due_before"),
    ] {
        let answer = list(query.into()).await?;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(answer.body["errors"][0]["field"], field, "{query}");
    }
    let many: Vec<String> = (0..21).map(|_| format!("label_id={bug}")).collect();
    let answer = list(many.join("&")).await?;
    assert_eq!(answer.body["errors"][0]["field"], "label_id", "{answer:?}");
    for query in ["assignee_id=nobody", "label_id=x", "reporter_id=none"] {
        assert_eq!(
            list(query.into()).await?.status,
            StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
    Ok(())
}

async fn projects_are_filtered_by_derived_status(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let idle = app.project(&owner, "IDLE").await?;
    let busy = app.project(&owner, "BUSY").await?;
    let statuses = app
        .get(&format!("/api/v1/projects/{busy}/statuses"), &owner.token)
        .await?;
    let doing = statuses
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["category"] == "in_progress")
        .unwrap()["id"]
        .clone();
    create(
        &app,
        &owner,
        &busy,
        json!({"title": "started", "status_id": doing}),
    )
    .await?;
    let listed = |status: &str| {
        let path = format!("/api/v1/projects?derived_status={status}");
        let token = owner.token.clone();
        let app = &app;
        async move {
            let answer = app.get(&path, &token).await?;
            anyhow::ensure!(answer.status == StatusCode::OK, "{answer:?}");
            let ids: Vec<String> = answer.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect();
            Ok::<_, anyhow::Error>(ids)
        }
    };
    assert_eq!(listed("todo").await?, [idle]);
    assert_eq!(listed("in_progress").await?, [busy]);
    assert!(listed("done").await?.is_empty());
    let bad = app
        .get("/api/v1/projects?derived_status=finished", &owner.token)
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    Ok(())
}

both_databases!(
    tasks_are_filtered_and_ordered_by_due_date_and_priority,
    projects_are_filtered_by_derived_status,
);
