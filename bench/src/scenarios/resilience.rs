//! The scenarios of the edges: S5, the first task of a big project whose aggregation row is
//! missing (bootstrap by recount), and S6, the server's memory idle and with many idle sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use reqwest::StatusCode;
use tasklane_domain::ids::ProjectId;
use tasklane_domain::ports::AggregationRepository;
use tasklane_store::{Store, StoreOptions};
use tokio::sync::Mutex;

use crate::api::metric;

use super::{Bench, key};

impl Bench {
    /// S5: the first task in a project with 1,000 and 100,000 tasks and no aggregation row.
    pub async fn s5(&mut self) -> anyhow::Result<()> {
        let url = self
            .database_url
            .clone()
            .context("S5 needs --database-url")?;
        let store = Store::connect(&url, &StoreOptions::default()).await?;
        let sizes: &[u64] = if self.quick {
            &[1_000, 10_000]
        } else {
            &[1_000, 100_000]
        };
        for &size in sizes {
            let owner = self.owner("s5").await?;
            let project = owner.project(&key("P")).await?;
            let seed = owner.create(&project, "seed").await?;
            let seed_id = seed.body["id"].as_str().context("seed id")?.to_owned();
            // The bulk rows are written in SQL: 100,000 creates through the API would take minutes.
            self.execute(&format!(
                "INSERT INTO tasks (id, project_id, number, title, status_id, priority, task_type, reporter_id, \
                   rank, row_version, created_at, updated_at) \
                 SELECT gen_random_uuid(), t.project_id, n, 'bulk ' || n, t.status_id, t.priority, t.task_type, \
                   t.reporter_id, t.rank || lpad(n::text, 7, '0'), 1, t.created_at, t.updated_at \
                 FROM tasks t, generate_series(2, {size}) n WHERE t.id = '{seed_id}'"
            ))
            .await?;
            self.execute(&format!(
                "UPDATE projects SET task_counter = {size} WHERE id = '{project}'"
            ))
            .await?;
            self.analyze().await?;
            let project_id = ProjectId::from_uuid(project.parse()?);
            let mut recounts = Vec::new();
            for _ in 0..5 {
                let started = Instant::now();
                let counts = store.recount(project_id).await?;
                recounts.push(started.elapsed());
                anyhow::ensure!(counts.total == size, "recount {} of {size}", counts.total);
            }
            recounts.sort();
            self.report.millis(
                "S5",
                &format!("{size} tasks"),
                "recount (median of 5)",
                recounts[2],
                Some(("≤ 50 ms", 50.0)),
            );

            let drop_row =
                format!("DELETE FROM project_aggregations WHERE project_id = '{project}'");
            self.execute(&drop_row).await?;
            let bootstrap_key = self
                .redis
                .as_ref()
                .map(|(_, prefix)| format!("{prefix}project_agg_init:{project}"));
            if let Some(key) = &bootstrap_key {
                redis_cli(self.redis.as_ref(), &["DEL", key])?;
            }
            let miss = owner
                .create(&project, "first after a missing row (miss)")
                .await?;
            anyhow::ensure!(
                miss.status == StatusCode::CREATED,
                "miss create: {}",
                miss.status
            );
            self.report.millis(
                "S5",
                &format!("{size} tasks"),
                "first create, cache miss (recount)",
                miss.latency,
                None,
            );
            if let Some(key) = &bootstrap_key {
                let written = Instant::now();
                while redis_cli(self.redis.as_ref(), &["EXISTS", key])? != "1" {
                    anyhow::ensure!(
                        written.elapsed() < Duration::from_secs(5),
                        "the bootstrap values were never cached"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                self.execute(&drop_row).await?;
                let hits = metric(
                    &owner.metrics().await?,
                    r#"tasklane_agg_bootstrap_cache_total{result="hit"}"#,
                );
                let hit = owner
                    .create(&project, "first after a missing row (hit)")
                    .await?;
                anyhow::ensure!(
                    hit.status == StatusCode::CREATED,
                    "hit create: {}",
                    hit.status
                );
                let after = metric(
                    &owner.metrics().await?,
                    r#"tasklane_agg_bootstrap_cache_total{result="hit"}"#,
                );
                anyhow::ensure!(
                    after >= hits + 1.0,
                    "the second bootstrap did not hit the cache"
                );
                self.report.millis(
                    "S5",
                    &format!("{size} tasks"),
                    "first create, cache hit",
                    hit.latency,
                    None,
                );
            }
            let normal = owner.create(&project, "with the row").await?;
            self.report.millis(
                "S5",
                &format!("{size} tasks"),
                "create with the row present",
                normal.latency,
                None,
            );
        }
        store.close().await;
        Ok(())
    }

    /// S6: the server's memory idle (measured at start) and with many idle WebSocket connections.
    pub async fn s6(&mut self, idle_mib: Option<f64>) -> anyhow::Result<()> {
        let Some(pid) = self.server_pid else {
            self.report
                .note("S6 skipped: the server is not a process of this bench (--target)");
            return Ok(());
        };
        if let Some(idle) = idle_mib {
            self.report.value(
                "S6",
                "idle",
                "server RSS",
                format!("{idle:.1} MiB"),
                Some(("≤ 50 MiB", idle <= 50.0)),
            );
        }
        let sockets = if self.quick { 1_000 } else { 10_000 };
        let owner = self.owner("s6").await?;
        let before = crate::server::resident_mib(pid)?;
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let open = Arc::new(Mutex::new(Vec::with_capacity(sockets)));
        let openers: Vec<_> = (0..16)
            .map(|worker| {
                let (owner, ws_base, open) = (owner.clone(), ws_base.clone(), open.clone());
                tokio::spawn(async move {
                    for _ in (worker..sockets).step_by(16) {
                        let ticket = owner.ticket().await?;
                        let url = format!("{ws_base}/api/v1/ws?ticket={ticket}");
                        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
                        // The `connected` frame: the server has set the socket up.
                        socket.next().await.context("no connected frame")??;
                        open.lock().await.push(socket);
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for opener in openers {
            opener.await??;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = crate::server::resident_mib(pid)?;
        let per_socket_kib = (after - before) * 1024.0 / sockets as f64;
        self.report.value(
            "S6",
            &format!("{sockets} idle sockets"),
            "server RSS",
            format!("{after:.1} MiB ({per_socket_kib:.1} KiB per connection)"),
            Some(("≤ 64 KiB per connection", per_socket_kib <= 64.0)),
        );
        open.lock().await.clear();
        Ok(())
    }
}

/// Runs `redis-cli` against the server's Redis.
fn redis_cli(redis: Option<&(String, String)>, args: &[&str]) -> anyhow::Result<String> {
    let (url, _) = redis.context("no Redis")?;
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .context("running redis-cli")?;
    anyhow::ensure!(output.status.success(), "redis-cli {args:?} failed");
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
