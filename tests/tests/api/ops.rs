//! Operations: health, readiness, metrics, the OpenAPI document and `/docs`, the page at `/`,
//! problem documents for unknown routes, request ids.

use reqwest::{Method, StatusCode};
use tasklane_tests::{TestApp, both_databases};

/// Every route of docs/api.md (method and path template under `/api/v1`), and the operations routes.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/ws-ticket"),
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("post", "/api/v1/me/password"),
    ("post", "/api/v1/projects"),
    ("get", "/api/v1/projects"),
    ("get", "/api/v1/projects/{id}"),
    ("patch", "/api/v1/projects/{id}"),
    ("delete", "/api/v1/projects/{id}"),
    ("post", "/api/v1/projects/{id}/archive"),
    ("post", "/api/v1/projects/{id}/restore"),
    ("get", "/api/v1/projects/{id}/aggregation"),
    ("post", "/api/v1/projects/{id}/aggregation/recount"),
    ("get", "/api/v1/projects/{id}/members"),
    ("post", "/api/v1/projects/{id}/members"),
    ("put", "/api/v1/projects/{id}/members/{user_id}"),
    ("delete", "/api/v1/projects/{id}/members/{user_id}"),
    ("get", "/api/v1/projects/{id}/statuses"),
    ("post", "/api/v1/projects/{id}/statuses"),
    ("patch", "/api/v1/statuses/{id}"),
    ("delete", "/api/v1/statuses/{id}"),
    ("post", "/api/v1/projects/{id}/tasks"),
    ("post", "/api/v1/projects/{id}/tasks/batch"),
    ("get", "/api/v1/projects/{id}/tasks"),
    ("get", "/api/v1/tasks/{id}"),
    ("get", "/api/v1/projects/{id}/tasks/by-key/{key}"),
    ("patch", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/tasks/{id}/move"),
    ("post", "/api/v1/tasks/{id}/archive"),
    ("post", "/api/v1/tasks/{id}/unarchive"),
    ("delete", "/api/v1/tasks/{id}"),
    ("get", "/api/v1/projects/{id}/events"),
    ("get", "/api/v1/tasks/{id}/events"),
    ("get", "/api/v1/tasks/{id}/comments"),
    ("get", "/api/v1/projects/{id}/labels"),
    ("post", "/api/v1/projects/{id}/labels"),
    ("patch", "/api/v1/labels/{id}"),
    ("delete", "/api/v1/labels/{id}"),
    ("post", "/api/v1/tasks/{id}/comments"),
    ("patch", "/api/v1/comments/{id}"),
    ("delete", "/api/v1/comments/{id}"),
    ("get", "/api/v1/ws"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

async fn every_api_route_is_in_the_openapi_document_and_docs_are_served(
    app: TestApp,
) -> anyhow::Result<()> {
    let answer = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await?;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = answer.body["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        assert!(
            item.get(*method).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    // A path parameter is one of the path's `{…}`; everything else a route reads is a query
    // parameter or a header (a query struct read by hand must say where it is).
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let in_path = parameter["in"] == "path";
                assert_eq!(
                    in_path,
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: parameter {name} is in {}",
                    parameter["in"]
                );
            }
        }
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "no undocumented extras, no missing routes"
    );

    let docs = app.call(Method::GET, "/docs/", None, None).await?;
    assert_eq!(docs.status, StatusCode::OK);
    let redirect = app.call(Method::GET, "/docs", None, None).await?;
    assert!(redirect.status.is_redirection());
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await?;
    assert_eq!(
        bundle.status(),
        StatusCode::OK,
        "assets are embedded, not fetched from a CDN"
    );
    Ok(())
}

async fn health_readiness_metrics_request_ids_and_unknown_routes(
    app: TestApp,
) -> anyhow::Result<()> {
    let health = app.call(Method::GET, "/healthz", None, None).await?;
    assert_eq!(
        (health.status, health.text("status").as_str()),
        (StatusCode::OK, "ok")
    );
    let ready = app.call(Method::GET, "/readyz", None, None).await?;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text("database"), "up");
    assert_eq!(
        ready.text("redis"),
        "not_configured",
        "the in-process cache"
    );
    assert_eq!(
        ready.text("fanout"),
        "local",
        "no Redis: this instance's sockets only"
    );
    assert!(
        ready
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
    let echoed = app
        .call_with(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "abc-123")],
        )
        .await?;
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));

    let missing = app
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(missing.text("code"), "not_found");

    let owner = app.register("metrics").await?;
    let project = app.project(&owner, "MET").await?;
    app.task(&owner, &project, "counted").await?;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    for name in [
        "tasklane_http_request_duration_seconds",
        "tasklane_db_statements_per_request",
        "tasklane_task_creation_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    Ok(())
}

/// Every metric the alert rules read is one the server exposes, under that name.
async fn every_metric_the_alert_rules_read_is_on_the_metrics_page(
    app: TestApp,
) -> anyhow::Result<()> {
    let owner = app.register("owner").await?;
    let project = app.project(&owner, "ALERT").await?;
    app.task(&owner, &project, "recorded").await?;
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/prometheus/alerts.yml"),
    )?;
    let metrics = app.metrics().await?;
    let mut names: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("tasklane_"))
        .map(|name| {
            ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            metrics.has(name) || metrics.0.contains(&format!("# TYPE {name} ")),
            "{name} is read by an alert rule but not on /metrics"
        );
    }
    Ok(())
}

/// The page at `/`: embedded, under a strict policy, revalidated by a strong tag; an unknown
/// asset is a problem document and a write to `/` is refused like any unknown route.
async fn the_page_and_its_modules_are_served_from_the_binary(app: TestApp) -> anyhow::Result<()> {
    let page = app.client.get(app.url("/")).send().await?;
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str()?;
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-cache");
    let html = page.text().await?;
    assert!(html.contains("<script type=\"module\" src=\"/app/app.js\">"));

    let tag = headers["etag"].to_str()?;
    let again = app
        .client
        .get(app.url("/"))
        .header("if-none-match", tag)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], tag);

    for (name, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("live.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let asset = app
            .client
            .get(app.url(&format!("/app/{name}")))
            .send()
            .await?;
        assert_eq!(asset.status(), StatusCode::OK, "{name}");
        assert_eq!(asset.headers()["content-type"], kind, "{name}");
        assert_ne!(asset.headers()["etag"], tag, "{name} has its own tag");
    }
    let head = app.client.head(app.url("/")).send().await?;
    assert_eq!(head.status(), StatusCode::OK);

    let missing = app
        .call(Method::GET, "/app/../Cargo.toml", None, None)
        .await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = app.call(Method::GET, "/app/secret.js", None, None).await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"));
    assert!(missing.header("content-security-policy").is_some());
    let write = app.call(Method::POST, "/", None, None).await?;
    assert_eq!(write.status, StatusCode::NOT_FOUND);
    Ok(())
}

both_databases!(
    the_page_and_its_modules_are_served_from_the_binary,
    every_api_route_is_in_the_openapi_document_and_docs_are_served,
    health_readiness_metrics_request_ids_and_unknown_routes,
    every_metric_the_alert_rules_read_is_on_the_metrics_page,
);

/// Every accepted connection has Nagle's algorithm off: with it on, a socket's small writes wait
/// for the client's acknowledgement of the previous ones, which Linux delays by up to 40 ms, and
/// a WebSocket's next events waited that long. Read from the server's side of the connection
/// (a duplicate of its descriptor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_connections_send_small_writes_at_once() -> anyhow::Result<()> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = tasklane_tests::spawn_app(tasklane_store::testing::TestDb::sqlite().await?)?;
    let mut client = tokio::net::TcpStream::connect(app.address).await?;
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tasklane\r\n\r\n")
        .await?;
    let mut answer = [0u8; 12];
    client.read_exact(&mut answer).await?;
    assert_eq!(&answer, b"HTTP/1.1 200", "served, so accepted");
    let ours = client.local_addr()?;

    let process = pidfd_open(getpid(), PidfdFlags::empty())?;
    let mut checked = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(number) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // Closed since it was listed: not the connection, which is still open.
        let Ok(socket) = pidfd_getfd(&process, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let peer = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(|peer| std::net::SocketAddr::try_from(peer).ok());
        // Both ends: another test's server in this process may have a client on the same port.
        let local = rustix::net::getsockname(&socket)
            .ok()
            .and_then(|local| std::net::SocketAddr::try_from(local).ok());
        if peer == Some(ours) && local == Some(app.address) {
            assert!(
                rustix::net::sockopt::tcp_nodelay(&socket)?,
                "TCP_NODELAY on the server's side of {ours}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 1, "the server's side of the connection was found");
    Ok(())
}
