//! The OpenAPI document is the contract, exactly: schemathesis (pinned in
//! `tests/schemathesis/requirements.txt`, installed by `.ci/run`) runs every check — examples,
//! boundary coverage, fuzzing of valid and invalid input, stateful sequences — against a fresh
//! server on SQLite and on PostgreSQL, and must find nothing: no 5xx, no status, header, content
//! type or body the document does not promise, no schema-valid request refused, no invalid one
//! accepted. Its configuration, with the reasons for each setting, is
//! `tests/schemathesis/schemathesis.toml`; its JUnit reports land in `target/schemathesis/`.

// Test code: a panic is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, ensure};
use tasklane_server::Settings;
use tasklane_store::testing::TestDb;
use tasklane_tests::{AppConfig, TestApp, spawn_app_config};

/// Examples per operation and phase: enough to reach every rule, small enough for a few minutes.
/// `TASKLANE_SCHEMATHESIS_EXAMPLES` sets another number (a longer hunt).
const EXAMPLES: &str = "40";
/// A fixed seed: every run sends the same requests. `TASKLANE_SCHEMATHESIS_SEED` sets another.
const SEED: &str = "1";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A server whose credential routes are not rate-limited, so that the fuzzer's registrations
/// and logins reach validation instead of a 429.
fn app(db: TestDb) -> anyhow::Result<TestApp> {
    let settings = Settings {
        auth_attempts_per_minute: 1_000_000,
        ..Settings::default()
    };
    let config = AppConfig {
        settings,
        ..AppConfig::default()
    };
    spawn_app_config(Arc::new(db), config)
}

async fn fuzz(app: TestApp, database: &str) -> anyhow::Result<()> {
    let user = app.register("fuzzer").await?;
    let root = workspace();
    let report = root.join(format!("target/schemathesis/{database}.xml"));
    let document = app.url("/api/v1/openapi.json");
    let mut command =
        Command::new(std::env::var("TASKLANE_SCHEMATHESIS").unwrap_or_else(|_| "st".into()));
    command
        .current_dir(root.join("tests/schemathesis"))
        .args([
            // Every check runs by default; not naming them on the command line lets the
            // configuration turn one off for one operation (a `--checks` option would win).
            "run", &document, "-n", EXAMPLES, "--seed", SEED,
        ])
        .args([
            "--workers",
            "2",
            "--exclude-path",
            "/api/v1/ws",
            "--exclude-path",
            "/metrics",
        ])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", user.token))
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context(
            "schemathesis (`st`) could not be started: install it with \
             `pip install -r tests/schemathesis/requirements.txt` (what .ci/run does)",
        )?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = stdout.lines().rev().take(40).collect();
    ensure!(
        output.status.success(),
        "schemathesis found failures on {database} (report: {}):\n{}\n{}",
        report.display(),
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "schemathesis on {database}:\n{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_on_sqlite() -> anyhow::Result<()> {
    fuzz(app(TestDb::sqlite().await?)?, "sqlite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_on_postgres() -> anyhow::Result<()> {
    fuzz(app(TestDb::postgres().await?)?, "postgres").await
}
