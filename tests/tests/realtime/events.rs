//! Every event of docs/realtime.md's table arrives after its HTTP call, once per socket, in order,
//! with the documented fields; and no client frame makes the server broadcast.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::ws::WsClient;
use tasklane_tests::{Answer, TestApp, both_databases};

/// Long enough for every frame of one call to arrive; the assertions then see all of them.
const SETTLE: Duration = Duration::from_millis(400);

/// The frames that arrived after a call: their types, and the data of each.
async fn after(client: &mut WsClient) -> anyhow::Result<(Vec<String>, Vec<Value>)> {
    let frames = client.drain(SETTLE).await?;
    let types = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    Ok((types, frames.iter().map(|f| f["data"].clone()).collect()))
}

fn ok(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{answer:?}");
}

/// Every event: the common fields.
fn common(data: &Value, project: &str, actor: &str) {
    assert_eq!(data["project_id"], json!(project), "{data}");
    assert_eq!(data["actor_id"], json!(actor), "{data}");
    assert!(
        data["at"].as_str().is_some_and(|at| at.len() >= 20),
        "{data}"
    );
}

async fn every_event_arrives_once_after_its_call_with_the_documented_fields(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let editor = app.register("editor").await?;
    let project = app.project(&owner, "RT").await?;
    let (o, p) = (owner.id.as_str(), project.as_str());
    let statuses = app
        .get(&format!("/api/v1/projects/{p}/statuses"), &owner.token)
        .await?
        .body;
    let status_of = |category: &str| {
        statuses
            .as_array()
            .and_then(|list| list.iter().find(|s| s["category"] == category))
            .map(|s| s["id"].clone())
            .unwrap()
    };
    let (todo, done) = (status_of("todo"), status_of("done"));

    // The owner watches the project, their user room, and (below) the task; the editor-to-be
    // watches their own user room.
    let mut watcher = app.ws(&owner).await?;
    watcher.must_join(&format!("project:{p}")).await?;
    watcher.must_join(&format!("user:{o}")).await?;
    let mut newcomer = app.ws(&editor).await?;
    newcomer.must_join(&format!("user:{}", editor.id)).await?;

    let created = app.task(&owner, p, "first").await?;
    let task = created["id"].as_str().unwrap().to_owned();
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["task_created"]);
    common(&data[0], p, o);
    assert_eq!(data[0]["task"]["key"], "RT-1");
    assert_eq!(data[0]["task"], created, "the task JSON of the HTTP API");
    watcher.must_join(&format!("task:{task}")).await?;

    let t = format!("/api/v1/tasks/{task}");
    ok(
        &app.call(
            Method::PATCH,
            &t,
            Some(&owner.token),
            Some(json!({"title": "renamed"})),
        )
        .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(
        types,
        ["task_updated"],
        "once, though in the project and the task room"
    );
    common(&data[0], p, o);
    assert_eq!(data[0]["changed"], json!(["title"]));
    assert_eq!(data[0]["task"]["title"], "renamed");

    ok(
        &app.post(
            &format!("{t}/move"),
            &owner.token,
            json!({"status_id": done}),
        )
        .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["task_moved", "project_status_changed"]);
    assert_eq!(
        (&data[0]["from_status_id"], &data[0]["to_status_id"]),
        (&todo, &done)
    );
    assert_eq!(data[0]["task"]["status"]["id"], done);
    common(&data[1], p, o);
    assert_eq!(
        (&data[1]["old_status"], &data[1]["new_status"]),
        (&json!("todo"), &json!("done"))
    );
    assert_eq!(
        (
            &data[1]["aggregation"]["total"],
            &data[1]["aggregation"]["done"]
        ),
        (&json!(1), &json!(1))
    );

    ok(
        &app.post(&format!("{t}/archive"), &owner.token, json!({}))
            .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["task_archived", "project_status_changed"]);
    assert!(data[0]["task"]["archived_at"].is_string());
    assert_eq!(data[1]["new_status"], "todo");

    ok(
        &app.post(&format!("{t}/unarchive"), &owner.token, json!({}))
            .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["task_unarchived", "project_status_changed"]);
    assert!(data[0]["task"]["archived_at"].is_null());

    ok(
        &app.call(Method::DELETE, &t, Some(&owner.token), None)
            .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["task_deleted", "project_status_changed"]);
    assert_eq!(
        (&data[0]["task_id"], &data[0]["key"]),
        (&json!(task), &json!("RT-1"))
    );

    let project_path = format!("/api/v1/projects/{p}");
    ok(
        &app.call(
            Method::PATCH,
            &project_path,
            Some(&owner.token),
            Some(json!({"name": "Renamed"})),
        )
        .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(
        types,
        ["project_updated"],
        "once, though in the project and the user room"
    );
    common(&data[0], p, o);
    assert_eq!(data[0]["project"]["name"], "Renamed");
    assert!(
        data[0]["project"].get("my_role").is_none(),
        "the same frame for every member"
    );

    app.member(&owner, p, &editor, "editor").await?;
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["member_added"]);
    assert_eq!(
        (&data[0]["user_id"], &data[0]["role"]),
        (&json!(editor.id), &json!("editor"))
    );
    let (types, _) = after(&mut newcomer).await?;
    assert_eq!(types, ["member_added"], "in the member's user room");

    let member_path = format!("{project_path}/members/{}", editor.id);
    ok(
        &app.call(Method::DELETE, &member_path, Some(&owner.token), None)
            .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["member_removed"]);
    assert_eq!(
        (&data[0]["user_id"], &data[0]["role"]),
        (&json!(editor.id), &json!("editor"))
    );
    let (types, _) = after(&mut newcomer).await?;
    assert_eq!(types, ["member_removed"]);

    // Workflow changes: the status and the board order after it.
    let statuses_path = format!("/api/v1/projects/{p}/statuses");
    let added = app
        .post(
            &statuses_path,
            &owner.token,
            json!({"name": "Blocked", "category": "issue", "position": 0}),
        )
        .await?;
    ok(&added, StatusCode::CREATED);
    let status = added.text("id");
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["status_created"]);
    common(&data[0], p, o);
    assert_eq!(
        data[0]["status"], added.body,
        "the status JSON of the HTTP API"
    );
    assert_eq!(
        data[0]["statuses"][0]["id"],
        json!(status),
        "first on the board"
    );
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/api/v1/statuses/{status}"),
            Some(&owner.token),
            Some(json!({"name": "Waiting", "position": 1})),
        )
        .await?;
    ok(&renamed, StatusCode::OK);
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["status_updated"]);
    assert_eq!(data[0]["status"]["name"], "Waiting");
    assert_eq!(data[0]["statuses"][1]["id"], json!(status));
    ok(
        &app.call(
            Method::DELETE,
            &format!("/api/v1/statuses/{status}"),
            Some(&owner.token),
            None,
        )
        .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["status_deleted"]);
    assert_eq!(data[0]["status_id"], json!(status));
    assert!(
        data[0]["statuses"]
            .as_array()
            .is_some_and(|list| list.iter().all(|s| s["id"] != json!(status))),
        "{}",
        data[0]
    );

    ok(
        &app.post(&format!("{project_path}/archive"), &owner.token, json!({}))
            .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(types, ["project_archived"]);
    assert!(data[0]["project"]["archived_at"].is_string());

    app.task(&owner, p, "brings it back").await?;
    let (types, data) = after(&mut watcher).await?;
    // The task first, then what followed from it.
    assert_eq!(types, ["task_created", "project_restored"]);
    assert_eq!(data[1]["restored_via"], "task_created");
    assert!(data[1]["project"]["archived_at"].is_null());

    ok(
        &app.call(Method::DELETE, &project_path, Some(&owner.token), None)
            .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut watcher).await?;
    assert_eq!(
        types,
        ["project_deleted", "left", "left"],
        "then out of the project and task rooms"
    );
    common(&data[0], p, o);
    assert_eq!(data[1]["reason"], "project_deleted");
    Ok(())
}

async fn a_new_project_is_announced_to_its_creator_only(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let other = app.register("other").await?;
    let mut creator = app.ws(&owner).await?;
    creator.must_join(&format!("user:{}", owner.id)).await?;
    let mut bystander = app.ws(&other).await?;
    bystander.must_join(&format!("user:{}", other.id)).await?;

    let project = app.project(&owner, "NEW").await?;
    let (types, data) = after(&mut creator).await?;
    assert_eq!(types, ["project_created"]);
    common(&data[0], &project, &owner.id);
    assert_eq!(data[0]["project"]["key"], "NEW");
    assert_eq!(data[0]["project"]["id"], json!(project));
    let (types, _) = after(&mut bystander).await?;
    assert!(types.is_empty(), "{types:?}");

    // The creator's live connection may go straight into the new project's room, and its later
    // project-level events reach the creator's user room too.
    creator.must_join(&format!("project:{project}")).await?;
    ok(
        &app.call(
            Method::PATCH,
            &format!("/api/v1/projects/{project}"),
            Some(&owner.token),
            Some(json!({"name": "Renamed"})),
        )
        .await?,
        StatusCode::OK,
    );
    let (types, _) = after(&mut creator).await?;
    assert_eq!(types, ["project_updated"], "once, though in two rooms");
    Ok(())
}

async fn comment_events_reach_the_task_and_project_rooms(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "CMT").await?;
    let task = app.task(&owner, &project, "discussed").await?;
    let task = task["id"].as_str().unwrap().to_owned();
    let mut board = app.ws(&owner).await?;
    board.must_join(&format!("project:{project}")).await?;
    let mut detail = app.ws(&owner).await?;
    detail.must_join(&format!("task:{task}")).await?;

    let added = app
        .post(
            &format!("/api/v1/tasks/{task}/comments"),
            &owner.token,
            json!({"body": "first"}),
        )
        .await?;
    ok(&added, StatusCode::CREATED);
    let comment = added.text("id");
    for socket in [&mut board, &mut detail] {
        let (types, data) = after(socket).await?;
        assert_eq!(types, ["comment_added"]);
        common(&data[0], &project, &owner.id);
        assert_eq!(data[0]["task_id"], json!(task));
        assert_eq!(data[0]["comment"]["id"], json!(comment));
        assert_eq!(data[0]["comment"]["body"], "first");
        assert_eq!(data[0]["comment_count"], 1);
    }
    let one = format!("/api/v1/comments/{comment}");
    let edit = json!({"body": "second"});
    ok(
        &app.call(Method::PATCH, &one, Some(&owner.token), Some(edit))
            .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut detail).await?;
    assert_eq!(types, ["comment_edited"]);
    assert_eq!(data[0]["comment"]["body"], "second");
    assert!(data[0]["comment"]["edited_at"].is_string());
    ok(
        &app.call(Method::DELETE, &one, Some(&owner.token), None)
            .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut detail).await?;
    assert_eq!(types, ["comment_deleted"]);
    assert_eq!(
        (&data[0]["comment_id"], &data[0]["comment_count"]),
        (&json!(comment), &json!(0))
    );
    let (types, _) = after(&mut board).await?;
    assert_eq!(types, ["comment_edited", "comment_deleted"]);
    Ok(())
}

async fn label_events_and_a_tasks_new_labels_reach_the_project_room(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "LBL").await?;
    let task = app.task(&owner, &project, "labelled").await?;
    let task = task["id"].as_str().unwrap().to_owned();
    let mut board = app.ws(&owner).await?;
    board.must_join(&format!("project:{project}")).await?;

    let label = app
        .post(
            &format!("/api/v1/projects/{project}/labels"),
            &owner.token,
            json!({"name": "Bug", "color": "#d73a4a"}),
        )
        .await?;
    ok(&label, StatusCode::CREATED);
    let (types, data) = after(&mut board).await?;
    assert_eq!(types, ["label_created"]);
    common(&data[0], &project, &owner.id);
    assert_eq!(data[0]["label"], label.body);

    let set = json!({"label_ids": [label.text("id")]});
    let path = format!("/api/v1/tasks/{task}");
    ok(
        &app.call(Method::PATCH, &path, Some(&owner.token), Some(set))
            .await?,
        StatusCode::OK,
    );
    let (types, data) = after(&mut board).await?;
    assert_eq!(types, ["task_updated"]);
    assert_eq!(data[0]["changed"], json!(["labels"]));
    assert_eq!(data[0]["previous"]["labels"], json!([]));
    assert_eq!(data[0]["task"]["labels"], json!([label.body]));

    // `previous` holds the ids of the status and the assignee a task had.
    let statuses = app
        .get(
            &format!("/api/v1/projects/{project}/statuses"),
            &owner.token,
        )
        .await?
        .body;
    let (todo, done) = (statuses[0]["id"].clone(), statuses[4]["id"].clone());
    let reassign = json!({"status_id": done, "assignee_id": owner.id});
    ok(
        &app.call(Method::PATCH, &path, Some(&owner.token), Some(reassign))
            .await?,
        StatusCode::OK,
    );
    let (_, data) = after(&mut board).await?;
    assert_eq!(data[0]["changed"], json!(["status_id", "assignee_id"]));
    assert_eq!(
        data[0]["previous"],
        json!({"status_id": todo, "assignee_id": null})
    );
    let unassign = json!({"assignee_id": null});
    ok(
        &app.call(Method::PATCH, &path, Some(&owner.token), Some(unassign))
            .await?,
        StatusCode::OK,
    );
    let (_, data) = after(&mut board).await?;
    assert_eq!(data[0]["previous"], json!({"assignee_id": owner.id}));

    let one = format!("/api/v1/labels/{}", label.text("id"));
    ok(
        &app.call(Method::DELETE, &one, Some(&owner.token), None)
            .await?,
        StatusCode::NO_CONTENT,
    );
    let (types, data) = after(&mut board).await?;
    assert_eq!(types, ["label_deleted"]);
    assert_eq!(data[0]["label_id"], json!(label.text("id")));
    Ok(())
}

async fn no_client_frame_makes_the_server_broadcast(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "QUIET").await?;
    let room = format!("project:{project}");
    let mut talker = app.ws(&owner).await?;
    let mut listener = app.ws(&owner).await?;
    talker.must_join(&room).await?;
    listener.must_join(&room).await?;
    let forged =
        json!({"project_id": project, "task": {"id": uuid::Uuid::new_v4(), "title": "forged"}});
    for kind in [
        "task_created",
        "task_updated",
        "project_deleted",
        "member_removed",
    ] {
        talker.send(kind, forged.clone()).await?;
        assert_eq!(talker.expect("error").await?["code"], "unknown_type");
    }
    talker
        .send_text(
            json!({"type": "join", "data": {"room": room, "event": "task_created"}}).to_string(),
        )
        .await?;
    assert!(
        listener.drain(SETTLE).await?.is_empty(),
        "the other socket heard nothing"
    );
    Ok(())
}

both_databases!(
    a_new_project_is_announced_to_its_creator_only,
    label_events_and_a_tasks_new_labels_reach_the_project_room,
    comment_events_reach_the_task_and_project_rooms,
    every_event_arrives_once_after_its_call_with_the_documented_fields,
    no_client_frame_makes_the_server_broadcast,
);
