//! Conditional board pages: every page carries an `ETag`; `If-None-Match` with the current one
//! is answered 304 with no body for one statement; every kind of change a page shows moves the
//! tag (tasks, comments, labels, columns, members' names); a non-member learns nothing from it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{Answer, Session, TestApp, both_databases};

fn statements(answer: &Answer) -> u32 {
    answer
        .header("x-db-statements")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

async fn board(
    app: &TestApp,
    project: &str,
    who: &Session,
    held: Option<&str>,
) -> anyhow::Result<Answer> {
    let path = format!("/api/v1/projects/{project}/tasks?order=board&limit=100");
    let headers: Vec<(&str, &str)> = held.map(|tag| ("if-none-match", tag)).into_iter().collect();
    app.call_with(Method::GET, &path, Some(&who.token), None, &headers)
        .await
}

fn etag(answer: &Answer) -> String {
    answer.header("etag").expect("an ETag").to_owned()
}

/// After a change: the old tag gets the new page (200) under a new tag, which then gets 304.
async fn moved(
    app: &TestApp,
    project: &str,
    who: &Session,
    old: &str,
    change: &str,
) -> anyhow::Result<(String, Value)> {
    let fresh = board(app, project, who, Some(old)).await?;
    assert_eq!(fresh.status, StatusCode::OK, "after {change}");
    let tag = etag(&fresh);
    assert_ne!(tag, old, "{change} must move the tag");
    let again = board(app, project, who, Some(&tag)).await?;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED, "after {change}");
    Ok((tag, fresh.body))
}

async fn an_unchanged_board_is_answered_304_and_every_change_moves_its_tag(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let editor = app.register("editor").await?;
    let stranger = app.register("stranger").await?;
    let project = app.project(&owner, "ETG").await?;
    app.member(&owner, &project, &editor, "editor").await?;
    let task = app.task(&owner, &project, "first").await?;
    let task_id = task["id"].as_str().unwrap().to_owned();
    app.task(&owner, &project, "second").await?;

    let first = board(&app, &project, &owner, None).await?;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(statements(&first), 2);
    assert_eq!(first.header("cache-control"), Some("private, no-cache"));
    let tag = etag(&first);
    assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
    // The same page again: the same tag and the same bytes, from this instance's copy (the
    // version is read with the reader's role; the page query is not sent).
    let second = board(&app, &project, &owner, None).await?;
    assert_eq!((etag(&second), &second.body), (tag.clone(), &first.body));
    assert_eq!(statements(&second), 1);
    // The metrics recorder is the process's, shared with the tests running beside this one.
    let pages = app.metrics().await?;
    let answered = |how: &str| pages.sum("tasklane_task_pages_total", &[("answer", how)]);
    assert!(answered("read") >= 1.0 && answered("cached") >= 1.0);

    let unchanged = board(&app, &project, &owner, Some(&tag)).await?;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.body, Value::Null, "a 304 has no body");
    assert_eq!(etag(&unchanged), tag);
    assert_eq!(statements(&unchanged), 1, "no page is read for a 304");
    let pages = app.metrics().await?;
    assert!(pages.sum("tasklane_task_pages_total", &[("answer", "not_modified")]) >= 1.0);
    // The tag names the page, not the reader: another member holding it is answered 304 too.
    let by_editor = board(&app, &project, &editor, Some(&tag)).await?;
    assert_eq!(by_editor.status, StatusCode::NOT_MODIFIED);
    // The current tag among others, strong or weak, matches; `*` matches a page that exists.
    let listed = format!("\"other\", {}", tag.trim_start_matches("W/"));
    for held in [listed.as_str(), "*"] {
        let answer = board(&app, &project, &owner, Some(held)).await?;
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{held}");
    }
    // What names no version of ours is no condition.
    for held in [
        "garbage",
        "\"1\"",
        "W/\"x.y\"",
        "\"99999999999999999999.1\"",
    ] {
        let answer = board(&app, &project, &owner, Some(held)).await?;
        assert_eq!(answer.status, StatusCode::OK, "{held}");
        assert_eq!(answer.body, first.body, "{held}");
    }
    // A non-member holding the tag is not found, as without it; a bad query is refused first.
    let hidden = board(&app, &project, &stranger, Some(&tag)).await?;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.header("etag"), None);
    let bad = app
        .call_with(
            Method::GET,
            &format!("/api/v1/projects/{project}/tasks?limit=0"),
            Some(&owner.token),
            None,
            &[("if-none-match", tag.as_str())],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Every change the page shows moves the tag.
    let task_path = format!("/api/v1/tasks/{task_id}");
    let answer = app
        .call(
            Method::PATCH,
            &task_path,
            Some(&owner.token),
            Some(json!({"title": "renamed", "assignee_id": editor.id})),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a task update").await?;
    assert_eq!(page["items"][0]["title"], "renamed");

    let answer = app
        .post(
            &format!("{task_path}/comments"),
            &editor.token,
            json!({"body": "hello"}),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::CREATED);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a comment").await?;
    assert_eq!(page["items"][0]["comment_count"], 1);

    let label = app
        .post(
            &format!("/api/v1/projects/{project}/labels"),
            &owner.token,
            json!({"name": "bug", "color": "#aa0000"}),
        )
        .await?;
    assert_eq!(label.status, StatusCode::CREATED);
    let label_id = label.text("id");
    let answer = app
        .call(
            Method::PATCH,
            &task_path,
            Some(&owner.token),
            Some(json!({"label_ids": [label_id]})),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, _) = moved(&app, &project, &owner, &tag, "labels on a task").await?;
    let answer = app
        .call(
            Method::PATCH,
            &format!("/api/v1/labels/{label_id}"),
            Some(&owner.token),
            Some(json!({"name": "defect"})),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a label rename").await?;
    assert_eq!(page["items"][0]["labels"][0]["name"], "defect");

    let status_id = page["items"][0]["status"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app
        .call(
            Method::PATCH,
            &format!("/api/v1/statuses/{status_id}"),
            Some(&owner.token),
            Some(json!({"name": "Backlog"})),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a column rename").await?;
    assert_eq!(page["items"][0]["status"]["name"], "Backlog");

    // The assignee's name is on the card, and no project event says it changed.
    let answer = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            Some(&editor.token),
            Some(json!({"display_name": "Eddie"})),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a profile change").await?;
    assert_eq!(page["items"][0]["assignee"]["display_name"], "Eddie");

    let answer = app
        .post(
            &format!("{task_path}/move"),
            &owner.token,
            json!({"after_id": page["items"][1]["id"]}),
        )
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "a move").await?;
    assert_eq!(page["items"][1]["id"], task_id.as_str());

    let answer = app
        .post(&format!("{task_path}/archive"), &owner.token, json!({}))
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    let (tag, page) = moved(&app, &project, &owner, &tag, "an archive").await?;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    app.task(&editor, &project, "third").await?;
    let (_, page) = moved(&app, &project, &owner, &tag, "a creation").await?;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    Ok(())
}

both_databases!(an_unchanged_board_is_answered_304_and_every_change_moves_its_tag);
