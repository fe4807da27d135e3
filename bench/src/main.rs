//! `tasklane-bench`: the load generator behind `cargo xtask bench` (docs/performance.md).
//!
//! It starts the server (or drives `--target`), prepares fresh data in a new PostgreSQL database,
//! runs the scenarios S1–S6 with the raw-SQL baseline beside S1 and S2, checks correctness from
//! the database afterwards, prints a Markdown table and writes `target/bench/report.json`.
//! Figures are reported, never asserted; the exit status fails only when the harness breaks or a
//! correctness check fails.

// A report prints on stdout by design.
#![allow(clippy::print_stdout)]

mod api;
mod checks;
mod cpu;
mod floor;
mod hardening;
mod load;
mod raw;
mod report;
mod scenarios;
mod server;
mod wire;

use std::time::Duration;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::report::Report;
use crate::scenarios::Bench;

const USAGE: &str = "tasklane-bench [--scenario S1,S2,...] [--target URL [--target-database-url URL]] \
[--server-bin PATH] [--database-url ADMIN_URL] [--redis-url URL] [--duration SECS] [--soak SECS] [--quick] [--report PATH]

scenarios: S1-S7 (S7: catching up 10,000 missed events), H1 (login flood) and H2 (a socket that never reads) by default; S8 (the soak:
--soak SECS of S1's hot project, then as long of S3's board traffic; 600 by default)";

#[derive(Debug)]
struct Args {
    scenarios: Vec<String>,
    target: Option<String>,
    target_database_url: Option<String>,
    server_bin: String,
    database_url: String,
    redis_url: String,
    duration: Duration,
    soak: Option<Duration>,
    quick: bool,
    report: String,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        scenarios: ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "H1", "H2"]
            .map(String::from)
            .to_vec(),
        target: None,
        target_database_url: None,
        server_bin: "target/release/tasklane".into(),
        // No TLS on loopback, for the server, the raw baseline and pgbench alike: libpq and
        // sqlx take the TLS a stock PostgreSQL offers, and encrypting 127.0.0.1 was 4.4 % of
        // the machine in S3's profile (PostgreSQL's libcrypto and libssl) for nothing.
        database_url: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into(),
        redis_url: "redis://127.0.0.1:6379".into(),
        duration: Duration::from_secs(10),
        soak: None,
        quick: false,
        report: "target/bench/report.json".into(),
    };
    let mut duration = None;
    let mut chosen = false;
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || {
            given
                .next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--scenario" => {
                chosen = true;
                args.scenarios = value()?
                    .split(',')
                    .map(|s| s.trim().to_uppercase())
                    .collect();
            }
            "--target" => args.target = Some(value()?.trim_end_matches('/').to_owned()),
            "--target-database-url" => args.target_database_url = Some(value()?),
            "--server-bin" => args.server_bin = value()?,
            "--database-url" => args.database_url = value()?,
            "--redis-url" => args.redis_url = value()?,
            "--duration" => duration = Some(Duration::from_secs(value()?.parse()?)),
            "--soak" => args.soak = Some(Duration::from_secs(value()?.parse()?)),
            "--quick" => args.quick = true,
            "--report" => args.report = value()?,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    // The smoke test runs the soak too (a few seconds a phase), so that CI exercises it.
    if args.quick && !args.scenarios.iter().any(|s| s == "S8") && !chosen {
        args.scenarios.push("S8".into());
    }
    args.duration = duration.unwrap_or(if args.quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    });
    Ok(args)
}

/// `postgres://…/test?x` with the database name replaced.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let (server, _) = path
        .rsplit_once('/')
        .context("a database URL ends in /name")?;
    Ok(match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let database_name = format!("tasklane_bench_{stamp}");
    let http = api::http_client(512)?;
    let mut report = Report::default();
    report.note(format!(
        "Machine: {} cores; duration {:?} per run{}.",
        std::thread::available_parallelism().map_or(0, usize::from),
        args.duration,
        if args.quick {
            " (--quick: a smoke test, smaller sizes)"
        } else {
            ""
        }
    ));

    let admin = match &args.target {
        Some(_) => None,
        None => {
            let admin = Database::connect(&args.database_url).await?;
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE {database_name}"),
                ))
                .await
                .context("creating the bench database")?;
            Some(admin)
        }
    };
    let (server, base, database_url) = match &args.target {
        Some(target) => (None, target.clone(), args.target_database_url.clone()),
        None => {
            let database_url = with_database(&args.database_url, &database_name)?;
            let env = [
                ("TASKLANE_DATABASE_URL", database_url.clone()),
                ("TASKLANE_REDIS_URL", args.redis_url.clone()),
                ("TASKLANE_REDIS_PREFIX", format!("bench-{stamp}:")),
                (
                    "TASKLANE_JWT_SECRET",
                    format!("bench secret {stamp} with enough characters"),
                ),
                ("TASKLANE_AUTH_ATTEMPTS_PER_MINUTE", "1000000".into()),
                // The soak outlasts the default 15 minutes of an access token.
                ("TASKLANE_ACCESS_TOKEN_TTL_SECS", "86400".into()),
                // The bench's thousands of sockets belong to a handful of users.
                ("TASKLANE_WS_CONNECTIONS_PER_USER", "100000".into()),
                ("TASKLANE_WS_TICKETS_PER_USER", "100000".into()),
                ("TASKLANE_ARCHIVE_INTERVAL_SECS", "86400".into()),
                (
                    "TASKLANE_DATA_DIR",
                    std::env::temp_dir()
                        .join(&database_name)
                        .display()
                        .to_string(),
                ),
            ];
            let server = server::Server::start(&args.server_bin, &env)?;
            let base = server.base.clone();
            (Some(server), base, Some(database_url))
        }
    };
    let db = match &database_url {
        Some(url) => Some(Database::connect(url).await?),
        None => None,
    };
    let idle_mib = match &server {
        Some(server) => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some(server::resident_mib(server.pid())?)
        }
        None => None,
    };
    let mut bench = Bench {
        http,
        base,
        database_url,
        db,
        redis: server
            .as_ref()
            .map(|_| (args.redis_url.clone(), format!("bench-{stamp}:"))),
        pool: 32,
        duration: args.duration,
        soak: args.soak.unwrap_or(if args.quick {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(600)
        }),
        quick: args.quick,
        server_pid: server.as_ref().map(server::Server::pid),
        report,
    };
    let mut failure = None;
    for scenario in &args.scenarios {
        eprintln!("running {scenario} …");
        let outcome = match scenario.as_str() {
            "S1" => bench.s1().await,
            "S2" => bench.s2().await,
            "S3" => bench.s3().await,
            "S4" => bench.s4().await,
            "S5" => bench.s5().await,
            "S6" => bench.s6(idle_mib).await,
            "S7" => bench.s7().await,
            "S8" => bench.s8().await,
            "H1" => bench.h1().await,
            "H2" => bench.h2().await,
            other => Err(anyhow::anyhow!("unknown scenario {other}")),
        };
        if let Err(error) = outcome {
            eprintln!("{scenario} failed: {error:#}");
            failure.get_or_insert(format!("{scenario}: {error:#}"));
        }
    }
    if let Some(db) = &bench.db {
        checks::run(db, &mut bench.report).await?;
    } else {
        bench
            .report
            .note("Correctness checks skipped: no --target-database-url.");
    }
    println!("{}", bench.report.markdown());
    if let Some(parent) = std::path::Path::new(&args.report).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.report, serde_json::to_string_pretty(&bench.report)?)?;
    eprintln!("report written to {}", args.report);

    let correct = bench.report.correct();
    drop(bench);
    drop(server);
    if let Some(admin) = admin {
        let drop = format!("DROP DATABASE IF EXISTS {database_name} WITH (FORCE)");
        admin
            .execute_raw(Statement::from_string(admin.get_database_backend(), drop))
            .await?;
    }
    if let Some(failure) = failure {
        bail!("the harness failed: {failure}");
    }
    if !correct {
        bail!("a correctness check failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_database_replaces_the_name_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "b").unwrap(),
            "postgres://u@h/b?sslmode=disable"
        );
    }
}
