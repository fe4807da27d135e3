//! Projects, members and statuses: every route's success path and its main refusals.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tasklane_tests::{TestApp, both_databases};

async fn projects_are_created_read_listed_updated_archived_restored_recounted_and_deleted(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let created = app
        .post(
            "/api/v1/projects",
            &owner.token,
            json!({"key": "web", "name": "  Website  ", "description": "The site"}),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.text("id");
    assert_eq!(created.text("key"), "WEB");
    assert_eq!(created.text("name"), "Website");
    assert_eq!(
        (
            created.text("derived_status").as_str(),
            created.text("my_role").as_str()
        ),
        ("todo", "owner")
    );
    assert_eq!(created.body["aggregation"]["total"], 0);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/projects/{id}").as_str())
    );

    let taken = app
        .post(
            "/api/v1/projects",
            &owner.token,
            json!({"key": "Web", "name": "Again"}),
        )
        .await?;
    assert_eq!(
        (taken.status, taken.text("code").as_str()),
        (StatusCode::CONFLICT, "key_taken")
    );

    let read = app
        .get(&format!("/api/v1/projects/{id}"), &owner.token)
        .await?;
    assert_eq!(
        (read.status, read.body["row_version"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let other = app.project(&owner, "OTH").await?;
    let page = app.get("/api/v1/projects?limit=1", &owner.token).await?;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["items"][0]["id"], other, "newest first");
    let cursor = page.text("next_cursor");
    let second = app
        .get(
            &format!("/api/v1/projects?limit=1&cursor={cursor}"),
            &owner.token,
        )
        .await?;
    assert_eq!(second.body["items"][0]["id"], id);
    let found = app
        .get("/api/v1/projects?search=webs", &owner.token)
        .await?;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/v1/projects/{id}");
    let stale = app
        .call_with(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(json!({"name": "X"})),
            &[("if-match", "\"9\"")],
        )
        .await?;
    assert_eq!(
        (stale.status, stale.text("code").as_str()),
        (StatusCode::PRECONDITION_FAILED, "version_mismatch")
    );
    let updated = app
        .call_with(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(json!({"name": "Web site"})),
            &[("if-match", "\"1\"")],
        )
        .await?;
    assert_eq!(
        (updated.status, updated.text("name").as_str()),
        (StatusCode::OK, "Web site")
    );
    assert_eq!(updated.header("etag"), Some("\"2\""));

    let archived = app
        .call(
            Method::POST,
            &format!("{path}/archive"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert!(archived.status == StatusCode::OK && !archived.body["archived_at"].is_null());
    let refused = app
        .call(
            Method::PATCH,
            &path,
            Some(&owner.token),
            Some(json!({"name": "Y"})),
        )
        .await?;
    assert_eq!(
        (refused.status, refused.text("code").as_str()),
        (StatusCode::CONFLICT, "archived")
    );
    let again = app
        .call(
            Method::POST,
            &format!("{path}/archive"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let restored = app
        .call(
            Method::POST,
            &format!("{path}/restore"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert!(restored.status == StatusCode::OK && restored.body["archived_at"].is_null());

    app.task(&owner, &id, "one").await?;
    let aggregation = app
        .get(&format!("{path}/aggregation"), &owner.token)
        .await?;
    assert_eq!(
        (
            aggregation.body["total"].as_u64(),
            aggregation.body["todo"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(aggregation.text("derived_status"), "todo");
    let recount = app
        .call(
            Method::POST,
            &format!("{path}/aggregation/recount"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(recount.status, StatusCode::OK);
    assert_eq!(
        (
            recount.body["drift"].as_bool(),
            recount.body["after"]["total"].as_u64()
        ),
        (Some(false), Some(1))
    );

    let deleted = app
        .call(Method::DELETE, &path, Some(&owner.token), None)
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&path, &owner.token).await?.status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

async fn members_are_listed_added_changed_and_removed(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let ed = app.register("ed").await?;
    let project = app.project(&owner, "MEM").await?;
    let members = format!("/api/v1/projects/{project}/members");
    let added = app
        .call(
            Method::PUT,
            &format!("{members}/{}", ed.id),
            Some(&owner.token),
            Some(json!({"role": "viewer"})),
        )
        .await?;
    assert_eq!(
        (added.status, added.text("role").as_str()),
        (StatusCode::OK, "viewer")
    );
    assert_eq!(added.body["user"]["email"], "ed@example.com");
    let changed = app
        .call(
            Method::PUT,
            &format!("{members}/{}", ed.id),
            Some(&owner.token),
            Some(json!({"role": "editor"})),
        )
        .await?;
    assert_eq!(changed.text("role"), "editor");
    let list = app.get(&members, &ed.token).await?;
    let roles: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "editor"]);
    let unknown = app
        .call(
            Method::PUT,
            &format!("{members}/{}", uuid::Uuid::new_v4()),
            Some(&owner.token),
            Some(json!({"role": "editor"})),
        )
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let last = app
        .call(
            Method::DELETE,
            &format!("{members}/{}", owner.id),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(
        (last.status, last.text("code").as_str()),
        (StatusCode::CONFLICT, "conflict")
    );
    let left = app
        .call(
            Method::DELETE,
            &format!("{members}/{}", ed.id),
            Some(&ed.token),
            None,
        )
        .await?;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&members, &ed.token).await?.status,
        StatusCode::NOT_FOUND,
        "gone means not found"
    );
    Ok(())
}

async fn members_are_added_by_email_without_revealing_addresses_to_others(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let mia = app.register("mia").await?;
    let ed = app.register("ed").await?;
    let project = app.project(&owner, "INV").await?;
    app.member(&owner, &project, &ed, "editor").await?;
    let members = format!("/api/v1/projects/{project}/members");
    let add = |email: &str, role: &str| json!({"email": email, "role": role});

    // The address is compared case-insensitively, whatever case it was registered in.
    let added = app
        .post(&members, &owner.token, add("MIA@Example.com", "viewer"))
        .await?;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["user"]["id"], mia.id.as_str());
    assert_eq!(added.body["user"]["display_name"], "mia");
    assert_eq!(added.text("role"), "viewer");
    let listed = app.get(&members, &mia.token).await?;
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["owner", "ed", "mia"], "display names in the list");

    let again = app
        .post(&members, &owner.token, add("mia@example.com", "editor"))
        .await?;
    assert_eq!(
        (again.status, again.text("code").as_str()),
        (StatusCode::CONFLICT, "already_member")
    );
    let unknown = app
        .post(&members, &owner.token, add("nobody@example.com", "viewer"))
        .await?;
    assert_eq!(
        (unknown.status, unknown.text("code").as_str()),
        (StatusCode::NOT_FOUND, "user_not_found")
    );
    // Anyone else learns nothing about the address: the same answer whether it exists or not.
    for email in ["nobody@example.com", "owner@example.com"] {
        let editor = app.post(&members, &ed.token, add(email, "viewer")).await?;
        assert_eq!(
            (editor.status, editor.text("code").as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{email}"
        );
    }
    let outsider = app.register("outsider").await?;
    for email in ["nobody@example.com", "mia@example.com"] {
        let stranger = app
            .post(&members, &outsider.token, add(email, "viewer"))
            .await?;
        assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{email}");
        assert_eq!(stranger.text("code"), "not_found", "{email}");
    }
    let bad = app
        .post(&members, &owner.token, add("not an address", "viewer"))
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.to_string().contains("email"), "{:?}", bad.body);
    let after = app.get(&members, &owner.token).await?;
    assert_eq!(
        after.body.as_array().map(Vec::len),
        Some(3),
        "nothing else was added"
    );
    Ok(())
}

async fn statuses_are_listed_created_renamed_moved_and_deleted(app: TestApp) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "STA").await?;
    let list_path = format!("/api/v1/projects/{project}/statuses");
    let list = app.get(&list_path, &owner.token).await?;
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Todo", "In Progress", "In Review", "Issue", "Done"]);
    assert_eq!(list.body[4]["position"], 4);

    let created = app
        .post(
            &list_path,
            &owner.token,
            json!({"name": "Blocked", "category": "issue", "position": 1}),
        )
        .await?;
    assert_eq!(
        (created.status, created.body["position"].as_u64()),
        (StatusCode::CREATED, Some(1))
    );
    let id = created.text("id");
    let duplicate = app
        .post(
            &list_path,
            &owner.token,
            json!({"name": "blocked", "category": "issue"}),
        )
        .await?;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let moved = app
        .call(
            Method::PATCH,
            &format!("/api/v1/statuses/{id}"),
            Some(&owner.token),
            Some(json!({"name": "Waiting", "position": 5})),
        )
        .await?;
    assert_eq!(
        (moved.text("name").as_str(), moved.body["position"].as_u64()),
        ("Waiting", Some(5))
    );
    let task = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &owner.token,
            json!({"title": "t", "status_id": id}),
        )
        .await?;
    assert_eq!(task.status, StatusCode::CREATED);
    let in_use = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    app.call(
        Method::DELETE,
        &format!("/api/v1/tasks/{}", task.text("id")),
        Some(&owner.token),
        None,
    )
    .await?;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let todo = list.body[0]["id"].as_str().unwrap();
    let last_todo = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{todo}"),
            Some(&owner.token),
            None,
        )
        .await?;
    assert_eq!(last_todo.status, StatusCode::CONFLICT);
    Ok(())
}

both_databases!(
    projects_are_created_read_listed_updated_archived_restored_recounted_and_deleted,
    members_are_listed_added_changed_and_removed,
    members_are_added_by_email_without_revealing_addresses_to_others,
    statuses_are_listed_created_renamed_moved_and_deleted,
);
