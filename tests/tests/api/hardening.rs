//! A hostile client's attempts, each answered without a 500 and without lost work: text with
//! control characters, dates and cursors outside what the databases store, tokens of users that
//! do not exist or are not valid yet, lower-case schemes, bodies that never arrive, unknown
//! methods, login floods, writes whose client hangs up, and `/metrics` off the API port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_server::Settings;
use tasklane_store::testing::TestDb;
use tasklane_tests::{AppConfig, TestApp, both_databases, spawn_app_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn field(answer: &tasklane_tests::Answer) -> String {
    answer.body["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn control_characters_are_refused_naming_the_field_and_change_nothing(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "CTRL").await?;
    let tasks = format!("/api/v1/projects/{project}/tasks");
    for (body, name) in [
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "bell\u{7}"}), "title"),
        (
            json!({"title": "ok", "description": "nul \u{0} inside"}),
            "description",
        ),
        (
            json!({"title": "ok", "description": "escape \u{1b}[0m"}),
            "description",
        ),
    ] {
        let answer = app.post(&tasks, &owner.token, body).await?;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{answer:?}"
        );
        assert_eq!(field(&answer), name);
    }
    let multi_line = app
        .post(
            &tasks,
            &owner.token,
            json!({"title": "\tpadded title\n", "description": "line one\r\nline\ttwo"}),
        )
        .await?;
    assert_eq!(multi_line.status, StatusCode::CREATED, "{multi_line:?}");
    assert_eq!(multi_line.text("title"), "padded title");
    let listing = app.get(&tasks, &owner.token).await?;
    assert_eq!(
        listing.body["items"].as_array().unwrap().len(),
        1,
        "only the valid task was created"
    );

    let project_name = app
        .post(
            "/api/v1/projects",
            &owner.token,
            json!({"key": "NUL", "name": "x\u{0}"}),
        )
        .await?;
    assert_eq!(project_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&project_name), "name");
    let display_name = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "nul@example.com", "password": "correct horse", "display_name": "N\u{0}"})),
        )
        .await?;
    assert_eq!(display_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&display_name), "display_name");
    let search = app
        .get(&format!("{tasks}?search=a%00b"), &owner.token)
        .await?;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&search), "search");
    Ok(())
}

async fn dates_and_cursor_times_outside_what_the_databases_store_are_refused(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "DATE").await?;
    let tasks = format!("/api/v1/projects/{project}/tasks");
    let early = app
        .post(
            &tasks,
            &owner.token,
            json!({"title": "t", "due_date": "-5000-01-01"}),
        )
        .await?;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "{early:?}");
    assert_eq!(field(&early), "due_date");
    let task = app.task(&owner, &project, "t").await?;
    let late = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            Some(&owner.token),
            Some(json!({"due_date": "+20000-01-01"})),
        )
        .await?;
    assert!(
        matches!(
            late.status,
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
        ),
        "{late:?}"
    );
    let id = uuid::Uuid::new_v4();
    for (path, cursor) in [
        (tasks.clone(), format!("u1.-9000000000000000000.{id}")),
        (tasks.clone(), format!("u1.253402300800000000.{id}")),
        (
            "/api/v1/projects".to_owned(),
            format!("p1.-62135596800000001.{id}"),
        ),
    ] {
        let answer = app
            .get(&format!("{path}?cursor={cursor}"), &owner.token)
            .await?;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{cursor}: {answer:?}"
        );
        assert_eq!(field(&answer), "cursor");
    }
    Ok(())
}

async fn a_token_of_a_user_that_no_longer_exists_is_refused_with_401(
    app: TestApp,
) -> anyhow::Result<()> {
    let tokens = tasklane_server::auth::tokens::AccessTokens::new(
        &tasklane_tests::jwt_secret(),
        Duration::from_secs(900),
    )?;
    let ghost = tokens.issue(
        tasklane_domain::ids::UserId::generate(),
        uuid::Uuid::new_v4(),
        chrono::Utc::now(),
    )?;
    let create = app
        .post(
            "/api/v1/projects",
            &ghost,
            json!({"key": "GHOST", "name": "Ghost"}),
        )
        .await?;
    assert_eq!(create.status, StatusCode::UNAUTHORIZED, "{create:?}");
    assert_eq!(
        app.get("/api/v1/me", &ghost).await?.status,
        StatusCode::UNAUTHORIZED
    );
    let ticket = app
        .post("/api/v1/auth/ws-ticket", &ghost, json!({}))
        .await?;
    assert_eq!(ticket.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn the_scheme_is_matched_without_regard_to_case_and_nbf_is_checked(
    app: TestApp,
) -> anyhow::Result<()> {
    let user = app.register("ada").await?;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let answer = app
            .call_with(
                Method::GET,
                "/api/v1/me",
                None,
                None,
                &[("authorization", &format!("{scheme} {}", user.token))],
            )
            .await?;
        assert_eq!(answer.status, StatusCode::OK, "{scheme}");
    }
    let now = chrono::Utc::now().timestamp();
    let early = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": user.id, "iat": now, "exp": now + 900, "nbf": now + 600,
                "jti": uuid::Uuid::new_v4(), "typ": "access"}),
        &jsonwebtoken::EncodingKey::from_secret(&tasklane_tests::jwt_secret().0)?,
    )?;
    let answer = app.get("/api/v1/me", &early).await?;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "not valid before nbf"
    );
    Ok(())
}

async fn an_unknown_method_on_a_known_path_is_405_with_allow(app: TestApp) -> anyhow::Result<()> {
    for method in ["TRACE", "PUT", "QUERY"] {
        let answer = app
            .call(
                Method::from_bytes(method.as_bytes())?,
                "/api/v1/projects",
                None,
                None,
            )
            .await?;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.header("allow"), Some("GET, POST"));
        assert_eq!(answer.text("code"), "method_not_allowed");
    }
    let options = app
        .call(
            Method::OPTIONS,
            &format!("/api/v1/tasks/{}", uuid::Uuid::new_v4()),
            None,
            None,
        )
        .await?;
    assert_eq!(options.status, StatusCode::NO_CONTENT);
    assert_eq!(options.header("allow"), Some("GET, DELETE, PATCH"));
    let unknown = app
        .call(Method::TRACE, "/api/v1/nowhere", None, None)
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    Ok(())
}

both_databases!(
    control_characters_are_refused_naming_the_field_and_change_nothing,
    dates_and_cursor_times_outside_what_the_databases_store_are_refused,
    a_token_of_a_user_that_no_longer_exists_is_refused_with_401,
    the_scheme_is_matched_without_regard_to_case_and_nbf_is_checked,
    an_unknown_method_on_a_known_path_is_405_with_allow,
);

fn app_with(db: TestDb, settings: Settings) -> anyhow::Result<TestApp> {
    let config = AppConfig {
        settings,
        ..AppConfig::default()
    };
    spawn_app_config(Arc::new(db), config)
}

/// Sends `head` and `body` on a raw connection and returns what comes back within `wait`.
async fn raw_exchange(app: &TestApp, head: &str, body: &[u8], wait: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_answered_408_and_the_connection_closed()
-> anyhow::Result<()> {
    let app = app_with(
        TestDb::sqlite().await?,
        Settings {
            body_read_timeout: Duration::from_secs(1),
            ..Settings::default()
        },
    )?;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100000\r\n\r\n",
        app.address
    );
    let started = Instant::now();
    let answer = raw_exchange(&app, &head, b"{", Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("request_timeout"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered and closed after the deadline, not held: {:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_address_and_not_on_the_api_port() -> anyhow::Result<()> {
    let app = app_with(
        TestDb::sqlite().await?,
        Settings {
            metrics_bind: Some("127.0.0.1:0".into()),
            ..Settings::default()
        },
    )?;
    let on_api = app.call(Method::GET, "/metrics", None, None).await?;
    assert_eq!(on_api.status, StatusCode::NOT_FOUND);
    let metrics = app.metrics().await?;
    assert!(metrics.has("tasklane_http_request_duration_seconds"));
    assert_ne!(app.metrics_address, Some(app.address));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_hashing_slots_wait_briefly_then_get_503_overloaded() -> anyhow::Result<()>
{
    let app = app_with(
        TestDb::sqlite().await?,
        Settings {
            password_hash_concurrency: 1,
            password_hash_wait: Duration::from_millis(20),
            auth_attempts_per_minute: 10_000,
            ..Settings::default()
        },
    )?;
    app.register("ada").await?;
    let app = Arc::new(app);
    let logins: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.call(
                    Method::POST,
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"email": "ada@example.com", "password": "correct horse"})),
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for login in logins {
        let answer = login.await??;
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.text("code"), "overloaded");
            assert_eq!(answer.header("retry-after"), Some("1"));
        }
        statuses.push(answer.status);
    }
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "more logins than slots within the wait: some are refused ({statuses:?})"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    Ok(())
}

/// Whether `row` of `body` equals `value` once the write went through.
async fn eventually(
    app: &TestApp,
    path: &str,
    token: &str,
    check: impl Fn(&Value) -> bool,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check(&app.get(path, token).await.unwrap().body) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_client_hangs_up_still_commits_and_publishes() -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};

    let db = TestDb::postgres().await?;
    let url = db.url.clone();
    let app = spawn_app_config(Arc::new(db), AppConfig::default())?;
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "HANG").await?;
    let task = app.task(&owner, &project, "before").await?;
    let id = task["id"].as_str().unwrap().to_owned();
    let mut watcher = app.ws(&owner).await?;
    watcher.must_join(&format!("project:{project}")).await?;

    // Hold the task's row so that the PATCH waits inside its transaction.
    let holder = Database::connect(&url).await?;
    let lock = holder.begin().await?;
    let backend = lock.get_database_backend();
    lock.execute_raw(Statement::from_string(
        backend,
        format!("SELECT id FROM tasks WHERE id = '{id}' FOR UPDATE"),
    ))
    .await?;
    let me = lock
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT pg_backend_pid() AS pid",
        ))
        .await?
        .unwrap()
        .try_get::<i32>("", "pid")?;

    let body = json!({"title": "after"}).to_string();
    let head = format!(
        "PATCH /api/v1/tasks/{id} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.address,
        owner.token,
        body.len()
    );
    // Linger 0: closing resets the connection, as a client that is killed or times out does (a
    // plain FIN is a half-close, which the server reads as "no more requests", not "gone").
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_zero_linger()?;
    let mut client = socket.connect(app.address).await?;
    client.write_all(head.as_bytes()).await?;
    client.write_all(body.as_bytes()).await?;
    let started = Instant::now();
    loop {
        let blocked = holder
            .query_one_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE {me} = ANY(pg_blocking_pids(pid))"
                ),
            ))
            .await?
            .unwrap()
            .try_get::<i64>("", "n")?;
        if blocked > 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(5),
            "the PATCH never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The client hangs up (a reset) while its write waits; then the row is released.
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.rollback().await?;

    let event = watcher.expect("task_updated").await?;
    assert_eq!(event["task"]["title"], json!("after"));
    assert!(
        eventually(&app, &format!("/api/v1/tasks/{id}"), &owner.token, |task| {
            task["title"] == json!("after")
        })
        .await,
        "the write committed"
    );
    Ok(())
}
