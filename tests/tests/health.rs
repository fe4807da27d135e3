//! The server answers its operational endpoints over real HTTP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(app: &tasklane_tests::TestApp, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(app.address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_json_on_sqlite() -> anyhow::Result<()> {
    check(tasklane_tests::spawn_app(
        tasklane_store::testing::TestDb::sqlite().await?,
    )?)
    .await
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_json_on_postgres() -> anyhow::Result<()> {
    check(tasklane_tests::spawn_app(
        tasklane_store::testing::TestDb::postgres().await?,
    )?)
    .await
}

async fn check(app: tasklane_tests::TestApp) -> anyhow::Result<()> {
    let health = get(&app, "/healthz").await?;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#));
    let ready = get(&app, "/readyz").await?;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains(r#""database":"up""#), "{ready}");
    let missing = get(&app, "/nope").await?;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    Ok(())
}
