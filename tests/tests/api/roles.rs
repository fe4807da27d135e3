//! The role matrix over HTTP: every route as owner, editor, viewer, non-member and anonymous,
//! each on a fresh project. Anonymous callers get 401, non-members 404 (the project's existence
//! is not revealed), members whose role does not allow the action 403.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_tests::{Session, TestApp, both_databases};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Editor,
    Viewer,
    Outsider,
    Anonymous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// Every member.
    Members,
    /// Owners and editors.
    Writers,
    /// Owners.
    Owners,
    /// The editor, who wrote the fixture's comment.
    Author,
}

struct People {
    owner: Session,
    editor: Session,
    viewer: Session,
    outsider: Session,
    extra: Session,
}

/// What each case starts from: a project with an editor, a viewer and an extra member, a live
/// task with a neighbour and the editor's comment, an archived task, an unused custom status.
struct Fixture {
    project: String,
    task: String,
    comment: String,
    label: String,
    neighbour: String,
    archived_task: String,
    status: String,
    key: String,
}

static KEYS: AtomicUsize = AtomicUsize::new(0);

async fn fixture(
    app: &TestApp,
    people: &People,
    archived_project: bool,
) -> anyhow::Result<Fixture> {
    let key = format!("R{}", KEYS.fetch_add(1, Ordering::SeqCst));
    let owner = &people.owner;
    let project = app.project(owner, &key).await?;
    app.member(owner, &project, &people.editor, "editor")
        .await?;
    app.member(owner, &project, &people.viewer, "viewer")
        .await?;
    app.member(owner, &project, &people.extra, "viewer").await?;
    let task = app.task(owner, &project, "task").await?;
    let neighbour = app.task(owner, &project, "neighbour").await?;
    let archived = app.task(owner, &project, "archived").await?;
    let archived_task = archived["id"].as_str().unwrap().to_owned();
    let comment = app
        .post(
            &format!("/api/v1/tasks/{}/comments", task["id"].as_str().unwrap()),
            &people.editor.token,
            json!({"body": "the editor's comment"}),
        )
        .await?;
    anyhow::ensure!(comment.status == StatusCode::CREATED, "{comment:?}");
    let label = app
        .post(
            &format!("/api/v1/projects/{project}/labels"),
            &owner.token,
            json!({"name": "Bug", "color": "#d73a4a"}),
        )
        .await?;
    anyhow::ensure!(label.status == StatusCode::CREATED, "{label:?}");
    app.call(
        Method::POST,
        &format!("/api/v1/tasks/{archived_task}/archive"),
        Some(&owner.token),
        None,
    )
    .await?;
    let status = app
        .post(
            &format!("/api/v1/projects/{project}/statuses"),
            &owner.token,
            json!({"name": "Extra", "category": "issue"}),
        )
        .await?;
    if archived_project {
        app.call(
            Method::POST,
            &format!("/api/v1/projects/{project}/archive"),
            Some(&owner.token),
            None,
        )
        .await?;
    }
    Ok(Fixture {
        task: task["id"].as_str().unwrap().to_owned(),
        comment: comment.text("id"),
        label: label.text("id"),
        neighbour: neighbour["id"].as_str().unwrap().to_owned(),
        archived_task,
        status: status.text("id"),
        key: format!("{key}-1"),
        project,
    })
}

type Request = (Method, String, Option<Value>);
/// A route: its name, who may call it, whether its project starts archived, its request.
type Route = (
    &'static str,
    Allowed,
    bool,
    Box<dyn Fn(&Fixture) -> Request>,
);

/// Every route: a name, who may call it, whether its fixture's project starts archived, and the
/// request.
fn routes(people: &People) -> Vec<Route> {
    let extra = people.extra.id.clone();
    let extra2 = extra.clone();
    vec![
        (
            "GET project",
            Allowed::Members,
            false,
            Box::new(|f| (Method::GET, format!("/api/v1/projects/{}", f.project), None)),
        ),
        (
            "GET aggregation",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/aggregation", f.project),
                    None,
                )
            }),
        ),
        (
            "GET members",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/members", f.project),
                    None,
                )
            }),
        ),
        (
            "GET statuses",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/statuses", f.project),
                    None,
                )
            }),
        ),
        (
            "GET tasks",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/tasks", f.project),
                    None,
                )
            }),
        ),
        (
            "GET task",
            Allowed::Members,
            false,
            Box::new(|f| (Method::GET, format!("/api/v1/tasks/{}", f.task), None)),
        ),
        (
            "GET task by key",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/tasks/by-key/{}", f.project, f.key),
                    None,
                )
            }),
        ),
        (
            "PATCH project",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::PATCH,
                    format!("/api/v1/projects/{}", f.project),
                    Some(json!({"name": "Renamed"})),
                )
            }),
        ),
        (
            "DELETE project",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::DELETE,
                    format!("/api/v1/projects/{}", f.project),
                    None,
                )
            }),
        ),
        (
            "archive project",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/archive", f.project),
                    None,
                )
            }),
        ),
        (
            "restore project",
            Allowed::Owners,
            true,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/restore", f.project),
                    None,
                )
            }),
        ),
        (
            "recount",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/aggregation/recount", f.project),
                    None,
                )
            }),
        ),
        (
            "POST member (by e-mail)",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/members", f.project),
                    Some(json!({"email": "OUTSIDER@example.com", "role": "viewer"})),
                )
            }),
        ),
        (
            "PUT member",
            Allowed::Owners,
            false,
            Box::new(move |f| {
                (
                    Method::PUT,
                    format!("/api/v1/projects/{}/members/{extra}", f.project),
                    Some(json!({"role": "editor"})),
                )
            }),
        ),
        (
            "DELETE member",
            Allowed::Owners,
            false,
            Box::new(move |f| {
                (
                    Method::DELETE,
                    format!("/api/v1/projects/{}/members/{extra2}", f.project),
                    None,
                )
            }),
        ),
        (
            "POST status",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/statuses", f.project),
                    Some(json!({"name": "New", "category": "todo"})),
                )
            }),
        ),
        (
            "PATCH status",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::PATCH,
                    format!("/api/v1/statuses/{}", f.status),
                    Some(json!({"name": "Renamed"})),
                )
            }),
        ),
        (
            "DELETE status",
            Allowed::Owners,
            false,
            Box::new(|f| {
                (
                    Method::DELETE,
                    format!("/api/v1/statuses/{}", f.status),
                    None,
                )
            }),
        ),
        (
            "POST task",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/tasks", f.project),
                    Some(json!({"title": "new"})),
                )
            }),
        ),
        (
            "POST batch",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/projects/{}/tasks/batch", f.project),
                    Some(json!({"tasks": [{"title": "a"}]})),
                )
            }),
        ),
        (
            "PATCH task",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::PATCH,
                    format!("/api/v1/tasks/{}", f.task),
                    Some(json!({"title": "renamed"})),
                )
            }),
        ),
        (
            "move task",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/tasks/{}/move", f.task),
                    Some(json!({"after_id": f.neighbour})),
                )
            }),
        ),
        (
            "archive task",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/tasks/{}/archive", f.task),
                    None,
                )
            }),
        ),
        (
            "unarchive task",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::POST,
                    format!("/api/v1/tasks/{}/unarchive", f.archived_task),
                    None,
                )
            }),
        ),
        (
            "DELETE task",
            Allowed::Writers,
            false,
            Box::new(|f| (Method::DELETE, format!("/api/v1/tasks/{}", f.task), None)),
        ),
        (
            "GET labels",
            Allowed::Members,
            false,
            Box::new(|f| {
                (
                    Method::GET,
                    format!("/api/v1/projects/{}/labels", f.project),
                    None,
                )
            }),
        ),
        (
            "POST label",
            Allowed::Writers,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/projects/{}/labels", f.project);
                (
                    Method::POST,
                    path,
                    Some(json!({"name": "New", "color": "#000000"})),
                )
            }),
        ),
        (
            "PATCH label",
            Allowed::Writers,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/labels/{}", f.label);
                (Method::PATCH, path, Some(json!({"color": "#ffffff"})))
            }),
        ),
        (
            "DELETE label",
            Allowed::Writers,
            false,
            Box::new(|f| (Method::DELETE, format!("/api/v1/labels/{}", f.label), None)),
        ),
        (
            "PATCH task labels",
            Allowed::Writers,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/tasks/{}", f.task);
                (Method::PATCH, path, Some(json!({"label_ids": [f.label]})))
            }),
        ),
        (
            "GET comments",
            Allowed::Members,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/tasks/{}/comments", f.task);
                (Method::GET, path, None)
            }),
        ),
        (
            "POST comment",
            Allowed::Writers,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/tasks/{}/comments", f.task);
                (Method::POST, path, Some(json!({"body": "new"})))
            }),
        ),
        (
            "PATCH comment",
            Allowed::Author,
            false,
            Box::new(|f| {
                let path = format!("/api/v1/comments/{}", f.comment);
                (Method::PATCH, path, Some(json!({"body": "edited"})))
            }),
        ),
        (
            "DELETE comment (author or owner)",
            Allowed::Writers,
            false,
            Box::new(|f| {
                (
                    Method::DELETE,
                    format!("/api/v1/comments/{}", f.comment),
                    None,
                )
            }),
        ),
    ]
}

fn expected(allowed: Allowed, who: Who) -> StatusCode {
    let permitted = match (allowed, who) {
        (_, Who::Anonymous) => return StatusCode::UNAUTHORIZED,
        (_, Who::Outsider) => return StatusCode::NOT_FOUND,
        (Allowed::Author, who) => who == Who::Editor,
        (Allowed::Members, _) | (_, Who::Owner) => true,
        (Allowed::Writers, Who::Editor) => true,
        _ => false,
    };
    if permitted {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    }
}

async fn every_route_answers_by_role_owner_editor_viewer_non_member_and_anonymous(
    app: TestApp,
) -> anyhow::Result<()> {
    let people = People {
        owner: app.register("owner").await?,
        editor: app.register("editor").await?,
        viewer: app.register("viewer").await?,
        outsider: app.register("outsider").await?,
        extra: app.register("extra").await?,
    };
    let mut failures = Vec::new();
    for (name, allowed, archived_project, request) in routes(&people) {
        for who in [
            Who::Owner,
            Who::Editor,
            Who::Viewer,
            Who::Outsider,
            Who::Anonymous,
        ] {
            let fixture = fixture(&app, &people, archived_project).await?;
            let (method, path, body) = request(&fixture);
            let token = match who {
                Who::Owner => Some(people.owner.token.as_str()),
                Who::Editor => Some(people.editor.token.as_str()),
                Who::Viewer => Some(people.viewer.token.as_str()),
                Who::Outsider => Some(people.outsider.token.as_str()),
                Who::Anonymous => None,
            };
            let answer = app.call(method, &path, token, body).await?;
            let want = expected(allowed, who);
            let got_class = if answer.status.is_success() {
                StatusCode::OK
            } else {
                answer.status
            };
            if got_class != want {
                failures.push(format!(
                    "{name} as {who:?}: expected {want}, got {} {}",
                    answer.status, answer.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "role matrix violations:\n{}",
        failures.join("\n")
    );
    Ok(())
}

both_databases!(every_route_answers_by_role_owner_editor_viewer_non_member_and_anonymous);
