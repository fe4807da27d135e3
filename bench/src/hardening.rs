//! The hostile-client and soak figures: H1 (peak memory during a login flood), H2 (memory with
//! one socket that never reads while 100 KB events pour in) and S8 (ten minutes of S1's hot
//! project, then ten of S3's board traffic: the server's memory slope and its PostgreSQL
//! backends' private memory). All need the server as a process of this bench (not `--target`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::api::PASSWORD;
use crate::load::{Stats, drive};
use crate::scenarios::{Bench, BoardTraffic, key, transport_error};
use crate::server::resident_mib;

/// The highest RSS of `pid` seen every 10 ms until `done` is set.
fn watch_peak(pid: u32, done: Arc<AtomicBool>) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut peak = 0.0_f64;
        while !done.load(Ordering::SeqCst) {
            if let Ok(rss) = resident_mib(pid) {
                peak = peak.max(rss);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak
    })
}

/// Creates `batches` batches of ten tasks with 100 KB descriptions in `project`, one after the
/// other; the server's RSS before, at its peak (every 10 ms) and a second after.
async fn flood(
    owner: &crate::api::Api,
    project: &str,
    batches: usize,
    pid: u32,
) -> anyhow::Result<(f64, f64, f64)> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = resident_mib(pid)?;
    let done = Arc::new(AtomicBool::new(false));
    let peak = watch_peak(pid, done.clone());
    let description = "d".repeat(100_000);
    for batch in 0..batches {
        let tasks: Vec<_> = (0..10)
            .map(|i| json!({"title": format!("h2-{batch}-{i}"), "description": description}))
            .collect();
        owner.batch(project, tasks).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::SeqCst);
    Ok((before, peak.await?, resident_mib(pid)?))
}

impl Bench {
    /// H1: peak server memory while 64, then 500 clients log in at once; how many were let in,
    /// told to come back (503 `overloaded`) or rate-limited.
    pub async fn h1(&mut self) -> anyhow::Result<()> {
        let Some(pid) = self.server_pid else {
            self.report
                .note("H1 skipped: the server is not a process of this bench");
            return Ok(());
        };
        let user = self.owner("h1").await?;
        let sizes: &[usize] = if self.quick { &[16] } else { &[64, 500] };
        for &clients in sizes {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let before = resident_mib(pid)?;
            let done = Arc::new(AtomicBool::new(false));
            let peak = watch_peak(pid, done.clone());
            let started = Instant::now();
            let logins: Vec<_> = (0..clients)
                .map(|_| {
                    let (http, base, email) =
                        (self.http.clone(), self.base.clone(), user.email.clone());
                    tokio::spawn(async move {
                        http.post(format!("{base}/api/v1/auth/login"))
                            .json(&json!({"email": email, "password": PASSWORD}))
                            .send()
                            .await
                            .map(|r| r.status())
                    })
                })
                .collect();
            let mut statuses = std::collections::BTreeMap::<String, usize>::new();
            for login in logins {
                let status = match login.await? {
                    Ok(status) => status.as_u16().to_string(),
                    Err(_) => "transport error".to_owned(),
                };
                *statuses.entry(status).or_default() += 1;
            }
            let took = started.elapsed();
            tokio::time::sleep(Duration::from_millis(200)).await;
            done.store(true, Ordering::SeqCst);
            let peak = peak.await?;
            let after = resident_mib(pid)?;
            let label = format!("{clients} concurrent logins");
            self.report.value(
                "H1",
                &label,
                "server RSS before / peak / after",
                format!("{before:.1} / {peak:.1} / {after:.1} MiB"),
                None,
            );
            let answers: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}× {s}")).collect();
            self.report.value(
                "H1",
                &label,
                "answers (status) and time",
                format!("{} in {:.2} s", answers.join(", "), took.as_secs_f64()),
                None,
            );
        }
        Ok(())
    }

    /// H2: one socket with a small receive buffer that never reads, in a project that gets
    /// batches of tasks with 100 KB descriptions: the server's memory, and when it cut the
    /// socket off. The same batches are first sent with no socket at all, so that what the
    /// stalled socket adds can be told from what creating and encoding the events costs.
    pub async fn h2(&mut self) -> anyhow::Result<()> {
        let Some(pid) = self.server_pid else {
            self.report
                .note("H2 skipped: the server is not a process of this bench");
            return Ok(());
        };
        let owner = self.owner("h2").await?;
        let batches = if self.quick { 3 } else { 30 };
        let label = format!("{} events of 100 KB", batches * 10);
        let unwatched = owner.project(&key("H")).await?;
        let (before, peak, after) = flood(&owner, &unwatched, batches, pid).await?;
        self.report.value(
            "H2",
            &label,
            "server RSS before / peak / after, no socket",
            format!("{before:.1} / {peak:.1} / {after:.1} MiB"),
            None,
        );

        let project = owner.project(&key("H")).await?;
        let ticket = owner.ticket().await?;
        let address = self.base.trim_start_matches("http://").to_owned();
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let stream = socket.connect(address.parse()?).await?;
        let url = format!("ws://{address}/api/v1/ws?ticket={ticket}");
        let (mut stalled, _) = tokio_tungstenite::client_async(url, stream).await?;
        stalled.next().await.context("no connected frame")??;
        let join = json!({"type": "join", "data": {"room": format!("project:{project}")}});
        stalled.send(Message::Text(join.to_string().into())).await?;
        stalled.next().await.context("no joined frame")??;
        let (before, peak, after) = flood(&owner, &project, batches, pid).await?;
        // Now read what the socket was given before it was cut off.
        let mut frames = 0;
        let mut ended = "still open".to_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline, stalled.next()).await {
                Err(_) => break,
                Ok(None | Some(Err(_))) => {
                    ended = "dropped".into();
                    break;
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    ended = format!("closed {}", frame.map_or(1005, |f| u16::from(f.code)));
                    break;
                }
                Ok(Some(Ok(Message::Text(_)))) => frames += 1,
                Ok(Some(Ok(_))) => {}
            }
        }
        self.report.value(
            "H2",
            &label,
            "server RSS before / peak / after, one stalled socket",
            format!("{before:.1} / {peak:.1} / {after:.1} MiB"),
            None,
        );
        self.report.value(
            "H2",
            &label,
            "the stalled socket",
            format!("{frames} frames delivered, then {ended}"),
            None,
        );
        Ok(())
    }

    /// S8: the soak. S1's hot project (64 clients) for one phase, then S3's board traffic (64
    /// clients) for another, sampling the server's RSS and its PostgreSQL backends' private
    /// memory every 10 s.
    pub async fn s8(&mut self) -> anyhow::Result<()> {
        let Some(pid) = self.server_pid else {
            self.report
                .note("S8 skipped: the server is not a process of this bench");
            return Ok(());
        };
        let phase = self.soak;
        let owner = self.owner("s8").await?;
        let hot = owner.project(&key("K")).await?;
        let board = owner.project(&key("L")).await?;
        let traffic = Arc::new(BoardTraffic::prepare(owner.clone(), board, 64).await?);
        self.analyze().await?;

        let samples = Arc::new(Mutex::new(Vec::<(f64, f64, Option<(usize, f64)>)>::new()));
        let sampling = Arc::new(AtomicBool::new(true));
        let started = Instant::now();
        let sampler = {
            let (samples, sampling) = (samples.clone(), sampling.clone());
            let every = if self.quick {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(10)
            };
            let bench_db = self.sql()?.clone();
            tokio::spawn(async move {
                let probe = ProbeDb(bench_db);
                while sampling.load(Ordering::SeqCst) {
                    let minute = started.elapsed().as_secs_f64() / 60.0;
                    let rss = resident_mib(pid).unwrap_or(0.0);
                    let backends = probe.backends().await.ok().flatten();
                    samples.lock().await.push((minute, rss, backends));
                    tokio::time::sleep(every).await;
                }
            })
        };

        let api = owner.clone();
        let (creates, elapsed) = drive(64, phase, u64::MAX, move |c, n| {
            let (api, project) = (api.clone(), hot.clone());
            async move {
                let started = Instant::now();
                match api.create(&project, &format!("s8-{c}-{n}")).await {
                    Ok(answer) => answer.sample(StatusCode::CREATED),
                    Err(_) => transport_error(started),
                }
            }
        })
        .await;
        let creates = Stats::of(&creates, elapsed);
        let (boards, elapsed) = drive(64, phase, u64::MAX, move |c, n| {
            let traffic = traffic.clone();
            async move { traffic.request(c, n).await.1 }
        })
        .await;
        let boards: Stats = Stats::of(&boards, elapsed);
        sampling.store(false, Ordering::SeqCst);
        sampler.await?;

        let samples = samples.lock().await.clone();
        let phase_minutes = phase.as_secs_f64() / 60.0;
        let at = |minute: f64| {
            samples
                .iter()
                .min_by(|a, b| (a.0 - minute).abs().total_cmp(&(b.0 - minute).abs()))
                .cloned()
        };
        let ends = [phase_minutes / 10.0, phase_minutes, 2.0 * phase_minutes];
        let rss: Vec<String> = ends
            .iter()
            .filter_map(|m| at(*m).map(|s| format!("{:.1} (min {:.1})", s.1, s.0)))
            .collect();
        let label = if phase.as_secs() >= 60 {
            format!("{phase_minutes:.0} + {phase_minutes:.0} min")
        } else {
            format!("{0} + {0} s", phase.as_secs())
        };
        self.report.value(
            "S8",
            &label,
            "server RSS MiB at ~1/10, end of S1, end of S3",
            rss.join(" / "),
            None,
        );
        // The slope after warm-up (the first tenth of each phase), by least squares.
        for (name, from, to) in [
            ("S1 phase", phase_minutes / 10.0, phase_minutes),
            ("S3 phase", phase_minutes * 1.1, 2.0 * phase_minutes),
        ] {
            let points: Vec<(f64, f64)> = samples
                .iter()
                .filter(|s| s.0 >= from && s.0 <= to)
                .map(|s| (s.0, s.1))
                .collect();
            let growth = points.last().map(|l| l.1).unwrap_or_default()
                - points.first().map(|f| f.1).unwrap_or_default();
            self.report.value(
                "S8",
                &label,
                &format!("server RSS slope, {name}"),
                format!("{:.3} MiB/min (growth {growth:.1} MiB)", slope(&points)),
                Some(("flat within 20 MiB", growth.abs() <= 20.0)),
            );
        }
        let backends: Vec<String> = ends
            .iter()
            .filter_map(|m| at(*m))
            .filter_map(|s| {
                s.2.map(|(n, mib)| format!("{mib:.1} MiB in {n} (min {:.1})", s.0))
            })
            .collect();
        if backends.is_empty() {
            self.report
                .note("S8: the PostgreSQL backends' memory could not be read (not local)");
        } else {
            self.report.value(
                "S8",
                &label,
                "PostgreSQL backends' private memory at ~1/10, end of S1, end of S3",
                backends.join(" / "),
                None,
            );
            // Each phase sends statements of its own, which every backend prepares once: the
            // growth is measured from a tenth into each phase to its end.
            for (name, from, to) in [
                ("S1 phase", phase_minutes / 10.0, phase_minutes),
                ("S3 phase", phase_minutes * 1.1, 2.0 * phase_minutes),
            ] {
                let (Some(first), Some(last)) = (at(from), at(to)) else {
                    continue;
                };
                if let (Some((_, first)), Some((_, last))) = (first.2, last.2) {
                    let growth = last - first;
                    self.report.value(
                        "S8",
                        &label,
                        &format!("PostgreSQL backends' growth after warm-up, {name}"),
                        format!("{growth:.1} MiB"),
                        Some(("flat within 20 MiB", growth.abs() <= 20.0)),
                    );
                }
            }
        }
        self.report
            .stats("S8", &label, "S1 phase creates", &creates, None);
        self.report
            .stats("S8", &label, "S3 phase requests", &boards, None);
        Ok(())
    }
}

/// The bench's own connection to the server's database, for the backends' figures.
struct ProbeDb(sea_orm::DatabaseConnection);

impl ProbeDb {
    async fn backends(&self) -> anyhow::Result<Option<(usize, f64)>> {
        backends_private(&self.0).await
    }
}

async fn backends_private(
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<Option<(usize, f64)>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'tasklane'",
        ))
        .await?;
    let mut total_kib = 0.0;
    for row in &rows {
        let pid: i32 = row.try_get("", "pid")?;
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            return Ok(None);
        };
        total_kib += rollup
            .lines()
            .filter(|l| l.starts_with("Private_Clean:") || l.starts_with("Private_Dirty:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .sum::<f64>();
    }
    Ok(Some((rows.len(), total_kib / 1024.0)))
}

/// The least-squares slope of `points` (x, y); 0 with fewer than two.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_its_gradient() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|x| (f64::from(x), 3.0 + 0.5 * f64::from(x)))
            .collect();
        assert!((slope(&points) - 0.5).abs() < 1e-9);
        assert_eq!(slope(&points[..1]), 0.0);
    }
}
