//! The scenarios of docs/performance.md. Each has a fixed duration and a request budget, and adds its
//! figures to the report.

mod realtime;
mod resilience;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;
use tasklane_domain::ids::{ProjectId, UserId};
use tokio::sync::Mutex;

use crate::api::{Api, metric};
use crate::cpu::Meter;
use crate::floor::{Projects, Shape};
use crate::load::{Sample, Stats, drive};
use crate::raw::Raw;
use crate::report::Report;

/// Requests one scenario may send at most (they also stop at their duration).
const BUDGET: u64 = 200_000;

/// What every scenario needs.
pub struct Bench {
    /// The shared HTTP client.
    pub http: reqwest::Client,
    /// The server's base URL.
    pub base: String,
    /// The server's database (for the baseline, the bulk data of S5 and the checks).
    pub database_url: Option<String>,
    /// An SQL connection to it.
    pub db: Option<DatabaseConnection>,
    /// The server's Redis and key prefix (for S5's cache figures).
    pub redis: Option<(String, String)>,
    /// The server's pool size (the baseline uses the same).
    pub pool: u32,
    /// How long each measured run lasts.
    pub duration: Duration,
    /// How long each of S8's two phases lasts.
    pub soak: Duration,
    /// Smoke-test sizes.
    pub quick: bool,
    /// The server's process, when the bench started it.
    pub server_pid: Option<u32>,
    /// The report.
    pub report: Report,
}

pub(crate) fn transport_error(started: Instant) -> Sample {
    Sample {
        latency: started.elapsed(),
        ok: false,
        server_error: false,
        statements: None,
    }
}

/// The common start of the keys of the many-project floor's projects (`G`, this run's tag,
/// then a number of five digits), unlike any [`key`] of this run.
fn floor_base() -> String {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let round = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 26;
    // `key` is a letter, the run's four letters and five digits; this is `G`, three of the run's
    // letters and a letter per round, so that S2 can run again (S8) without a clash.
    format!("G{}{}", &run_tag()[..3], char::from(b'A' + round))
}

/// This run's tag: four letters from the clock.
fn run_tag() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let mut n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (0..4)
            .map(|_| {
                let letter = char::from(b'A' + (n % 26) as u8);
                n /= 26;
                letter
            })
            .collect()
    })
}

/// A project key unique to this run (a run tag from the clock, then a sequence number), so that
/// runs against one `--target` do not collide.
pub(crate) fn key(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{}{n:05}", run_tag())
}

impl Bench {
    pub(crate) async fn owner(&self, name: &str) -> anyhow::Result<Api> {
        Api::register(self.http.clone(), &self.base, name).await
    }

    pub(crate) fn sql(&self) -> anyhow::Result<&DatabaseConnection> {
        self.db.as_ref().context("this figure needs --database-url")
    }

    /// Vacuums and refreshes the planner's statistics after preparing data, as autovacuum would
    /// have done on a database that has been running (and as `pgbench` does before its runs):
    /// fresh tables otherwise get plans made for empty ones, and the dead rows of the previous
    /// scenario get vacuumed by autovacuum during this one. Then writes out what earlier runs
    /// left dirty (`CHECKPOINT`), so that a timed checkpoint falling in this run does not flush
    /// the previous scenario's pages: in one full run a checkpoint writing S2's pages for 165 s
    /// overlapped S3 and S4. A database user that may not checkpoint (`--target-database-url`)
    /// skips it.
    pub(crate) async fn analyze(&self) -> anyhow::Result<()> {
        if self.db.is_some() {
            self.execute("VACUUM ANALYZE").await?;
            let _ = self.execute("CHECKPOINT").await;
        }
        Ok(())
    }

    async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        let db = self.sql()?;
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await?;
        Ok(())
    }

    /// Creates through the server in `projects` (client `c` uses `projects[c % len]`), then the
    /// same through the raw baseline in fresh projects and the two SQL floors, and reports them
    /// all, their ratios and where the CPU went in each run.
    async fn creates(&mut self, id: &str, clients: usize, spread: bool) -> anyhow::Result<()> {
        let owner = self.owner(id).await?;
        let project_count = if spread { clients } else { 1 };
        let mut server_projects = Vec::new();
        let mut raw_projects = Vec::new();
        for _ in 0..project_count {
            server_projects.push(owner.project(&key("S")).await?);
            raw_projects.push(owner.project(&key("R")).await?);
        }
        self.analyze().await?;
        let batches_before = creation_batches(&owner).await;
        let server_projects = Arc::new(server_projects);
        let api = owner.clone();
        let projects = server_projects.clone();
        let meter = Meter::start(self.server_pid);
        let (samples, elapsed) = drive(clients, self.duration, BUDGET, move |c, n| {
            let (api, project) = (api.clone(), projects[c % projects.len()].clone());
            async move {
                let started = Instant::now();
                match api.create(&project, &format!("c{c}-{n}")).await {
                    Ok(answer) => answer.sample(StatusCode::CREATED),
                    Err(_) => transport_error(started),
                }
            }
        })
        .await;
        let server_cpu = meter.shares();
        let server = Stats::of(&samples, elapsed);
        let (requests, transactions, projects) = {
            let after = creation_batches(&owner).await;
            (
                after.0 - batches_before.0,
                after.1 - batches_before.1,
                after.2 - batches_before.2,
            )
        };

        let raw = match &self.database_url {
            Some(url) => {
                let raw = Raw::connect(url, self.pool).await?;
                let actor = UserId::from_uuid(owner.user_id.parse()?);
                let projects: Vec<ProjectId> = raw_projects
                    .iter()
                    .map(|p| p.parse().map(ProjectId::from_uuid))
                    .collect::<Result<_, _>>()?;
                let projects = Arc::new(projects);
                let meter = Meter::start(self.server_pid);
                let (samples, elapsed) = drive(clients, self.duration, BUDGET, move |c, n| {
                    let (raw, project) = (raw.clone(), projects[c % projects.len()]);
                    async move { raw.create(actor, project, format!("r{c}-{n}")).await }
                })
                .await;
                Some((Stats::of(&samples, elapsed), meter.shares()))
            }
            None => None,
        };
        let label = format!("{clients} clients");
        self.report.stats(
            id,
            &label,
            "create",
            &server,
            raw.as_ref().map(|(stats, _)| stats),
        );
        self.report
            .value(id, &label, "CPU, server run", server_cpu.to_string(), None);
        if let Some((_, raw_cpu)) = &raw {
            self.report.value(
                id,
                &label,
                "CPU, raw baseline run (the generator runs the adapter)",
                raw_cpu.to_string(),
                None,
            );
        }
        if let Some(url) = self.database_url.clone() {
            let projects = if spread {
                let base = floor_base();
                for n in 1..=project_count {
                    owner.project(&format!("{base}{n:05}")).await?;
                }
                Projects::Many {
                    base,
                    count: project_count,
                }
            } else {
                let project = owner.project(&key("F")).await?;
                let status = owner
                    .statuses(&project)
                    .await?
                    .into_iter()
                    .find(|(_, category)| category == "todo")
                    .map(|(id, _)| id)
                    .context("no todo status")?;
                Projects::One { project, status }
            };
            self.analyze().await?;
            for shape in [Shape::OneStatement, Shape::FourRoundTrips] {
                self.floor(
                    id,
                    &label,
                    (&owner, &projects),
                    &url,
                    shape,
                    clients,
                    server.per_second,
                )
                .await?;
            }
        }
        if transactions > 0.0 {
            self.report.value(
                id,
                &label,
                "creations per transaction",
                format!("{:.1}", requests / transactions),
                None,
            );
            self.report.value(
                id,
                &label,
                "projects per creation transaction",
                format!("{:.1}", projects / transactions),
                None,
            );
        }
        Ok(())
    }

    /// One SQL floor beside a creation scenario: pgbench at the same concurrency (at most 64
    /// connections, beside the server's pool, within PostgreSQL's 100), and the server's ratio
    /// to it, with the targets of docs/performance.md: S1 at 64 clients at least 1.5 × the
    /// one-statement floor, S2 at least 0.7 × the four-round-trip floor over many projects.
    #[allow(clippy::too_many_arguments)]
    async fn floor(
        &mut self,
        id: &str,
        label: &str,
        (owner, projects): (&Api, &Projects),
        url: &str,
        shape: Shape,
        clients: usize,
        server_per_second: f64,
    ) -> anyhow::Result<()> {
        let connections = clients.min(64);
        let (url, duration) = (url.to_owned(), self.duration);
        let (user, projects) = (owner.user_id.clone(), projects.clone());
        let measured = tokio::task::spawn_blocking(move || {
            crate::floor::measure(&url, shape, &projects, &user, connections, duration)
        })
        .await?;
        match measured {
            Ok(floor) => {
                self.report.value(
                    id,
                    label,
                    &format!("{} ({connections} connections)", shape.name()),
                    format!(
                        "{:.0}/s, mean {:.1} ms",
                        floor.per_second,
                        floor.latency.as_secs_f64() * 1000.0
                    ),
                    None,
                );
                self.report.value(
                    id,
                    label,
                    &format!("CPU, {} run (pgbench is the generator)", shape.name()),
                    floor.cpu.to_string(),
                    None,
                );
                let ratio = server_per_second / floor.per_second.max(f64::MIN_POSITIVE);
                let target = match (id, clients, shape) {
                    ("S1", 64, Shape::OneStatement) => Some(("≥ 1.5", ratio >= 1.5)),
                    ("S2", _, Shape::FourRoundTrips) => Some(("≥ 0.7", ratio >= 0.7)),
                    _ => None,
                };
                self.report.value(
                    id,
                    label,
                    &format!("server / {}", shape.name()),
                    format!("{ratio:.2}"),
                    target,
                );
            }
            Err(why) => self
                .report
                .note(format!("{id} {label}: no {}: {why}", shape.name())),
        }
        Ok(())
    }

    /// S1: one hot project, 64 and 200 clients.
    pub async fn s1(&mut self) -> anyhow::Result<()> {
        self.creates("S1", 64, false).await?;
        self.creates("S1", 200, false).await
    }

    /// S2: 200 clients over 200 projects.
    pub async fn s2(&mut self) -> anyhow::Result<()> {
        self.creates("S2", 200, true).await
    }

    /// S3: board traffic (80 % board pages of 100, 15 % moves, 5 % creates) at 64 and 200
    /// clients; then a quiet board (reads only, half the clients revalidating their copy, half
    /// loading the page afresh), where the page's `ETag` and the server's copy answer.
    pub async fn s3(&mut self) -> anyhow::Result<()> {
        for (clients, quiet) in [(64, false), (200, false), (64, true)] {
            let owner = self.owner("s3").await?;
            let project = owner.project(&key("B")).await?;
            let mut traffic = BoardTraffic::prepare(owner, project, clients).await?;
            traffic.quiet = quiet;
            let traffic = Arc::new(traffic);
            self.analyze().await?;
            let kinds = Arc::new(Mutex::new(HashMap::<&'static str, Vec<Sample>>::new()));
            let recorded = kinds.clone();
            let meter = Meter::start(self.server_pid);
            let (_, elapsed) = drive(clients, self.duration, BUDGET, move |c, n| {
                let (traffic, recorded) = (traffic.clone(), recorded.clone());
                async move {
                    let (kind, sample) = traffic.request(c, n).await;
                    recorded.lock().await.entry(kind).or_default().push(sample);
                    sample
                }
            })
            .await;
            let cpu = meter.shares();
            let kinds = kinds.lock().await;
            let all: Vec<Sample> = kinds.values().flatten().copied().collect();
            let label = if quiet {
                format!("quiet board, {clients} clients")
            } else {
                format!("{clients} clients")
            };
            self.report
                .stats("S3", &label, "all", &Stats::of(&all, elapsed), None);
            for kind in ["board", "board 304", "move", "create"] {
                if let Some(samples) = kinds.get(kind) {
                    self.report
                        .stats("S3", &label, kind, &Stats::of(samples, elapsed), None);
                }
            }
            self.report
                .value("S3", &label, "CPU", cpu.to_string(), None);
        }
        Ok(())
    }
}

/// S3's board traffic on one project of 1,000 tasks: a fixed mix spread over the clients, 16
/// board pages of 100 tasks, 3 moves and 1 create per 20. Each client keeps the `ETag` of the
/// page it read last and sends it back (`If-None-Match`), as a browser does.
pub(crate) struct BoardTraffic {
    api: Api,
    project: String,
    tasks: Vec<String>,
    statuses: Vec<String>,
    /// Each client's last page tag.
    held: Vec<std::sync::Mutex<Option<String>>>,
    /// Reads only; odd clients load the page afresh (no `If-None-Match`).
    pub(crate) quiet: bool,
}

impl BoardTraffic {
    /// Fills `project` of `owner` with 1,000 tasks for `clients` clients.
    pub(crate) async fn prepare(
        owner: Api,
        project: String,
        clients: usize,
    ) -> anyhow::Result<BoardTraffic> {
        let tasks = owner.fill(&project, 1_000).await?;
        let statuses = owner
            .statuses(&project)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Ok(BoardTraffic {
            api: owner,
            project,
            tasks,
            statuses,
            held: (0..clients).map(|_| std::sync::Mutex::default()).collect(),
            quiet: false,
        })
    }

    fn held(&self, c: usize) -> &std::sync::Mutex<Option<String>> {
        &self.held[c % self.held.len()]
    }

    /// Request `n` of client `c`: its kind (`board 304` for an unchanged page) and its sample.
    pub(crate) async fn request(&self, c: usize, n: u64) -> (&'static str, Sample) {
        let (api, project, tasks, statuses) =
            (&self.api, &self.project, &self.tasks, &self.statuses);
        let started = Instant::now();
        let pick = if self.quiet {
            19
        } else {
            (c as u64 * 7 + n) % 20
        };
        let spot = (c as u64 * 7_919 + n * 104_729) as usize;
        let (kind, answer, expected) = match pick {
            0 => (
                "create",
                api.create(project, &format!("b{c}-{n}")).await,
                StatusCode::CREATED,
            ),
            1..=3 => {
                let task = &tasks[spot % tasks.len()];
                let status = &statuses[spot % statuses.len()];
                let answer = api
                    .call_unparsed(
                        Method::POST,
                        &format!("/tasks/{task}/move"),
                        Some(json!({"status_id": status})),
                    )
                    .await;
                ("move", answer, StatusCode::OK)
            }
            _ => {
                let path = format!("/projects/{project}/tasks?order=board&limit=100");
                let fresh = self.quiet && c % 2 == 1;
                let held = match self.held(c).lock() {
                    Ok(held) if !fresh => held.clone(),
                    _ => None,
                };
                let answer = api.get_unless(&path, held.as_deref()).await;
                match &answer {
                    Ok(a) if a.status == StatusCode::NOT_MODIFIED => {
                        ("board 304", answer, StatusCode::NOT_MODIFIED)
                    }
                    Ok(a) => {
                        if let Ok(mut held) = self.held(c).lock() {
                            held.clone_from(&a.etag);
                        }
                        ("board", answer, StatusCode::OK)
                    }
                    Err(_) => ("board", answer, StatusCode::OK),
                }
            }
        };
        let sample = match answer {
            Ok(answer) => answer.sample(expected),
            Err(_) => transport_error(started),
        };
        (kind, sample)
    }
}

/// The server's coalesced creation counters so far: (requests, transactions, projects summed
/// over the transactions). Zero against a server that does not coalesce (or another
/// implementation, `--target`).
async fn creation_batches(api: &Api) -> (f64, f64, f64) {
    let page = api.metrics().await.unwrap_or_default();
    (
        metric(&page, "tasklane_task_creations_per_transaction_sum"),
        metric(&page, "tasklane_task_creations_per_transaction_count"),
        metric(&page, "tasklane_task_creation_projects_per_transaction_sum"),
    )
}
