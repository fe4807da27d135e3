//! The scenarios of docs/performance.md. Each has a fixed duration and a request budget, and adds its
//! figures to the report.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;
use tasklane_domain::ids::{ProjectId, UserId};
use tasklane_domain::ports::AggregationRepository;
use tasklane_store::{Store, StoreOptions};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{Api, metric};
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

/// A project key unique to this run (a run tag from the clock, then a sequence number), so that
/// runs against one `--target` do not collide.
pub(crate) fn key(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
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
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{run}{n:05}")
}

impl Bench {
    pub(crate) async fn owner(&self, name: &str) -> anyhow::Result<Api> {
        Api::register(self.http.clone(), &self.base, name).await
    }

    pub(crate) fn sql(&self) -> anyhow::Result<&DatabaseConnection> {
        self.db.as_ref().context("this figure needs --database-url")
    }

    /// Refreshes the planner's statistics after preparing data, as autovacuum would have done
    /// on a database that has been running; fresh tables otherwise get plans made for empty ones.
    pub(crate) async fn analyze(&self) -> anyhow::Result<()> {
        if self.db.is_some() {
            self.execute("ANALYZE").await?;
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
    /// same through the raw baseline in fresh projects, and reports both and their ratio.
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
        let server = Stats::of(&samples, elapsed);
        let (requests, transactions) = {
            let after = creation_batches(&owner).await;
            (after.0 - batches_before.0, after.1 - batches_before.1)
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
                let (samples, elapsed) = drive(clients, self.duration, BUDGET, move |c, n| {
                    let (raw, project) = (raw.clone(), projects[c % projects.len()]);
                    async move { raw.create(actor, project, format!("r{c}-{n}")).await }
                })
                .await;
                Some(Stats::of(&samples, elapsed))
            }
            None => None,
        };
        let label = format!("{clients} clients");
        self.report
            .stats(id, &label, "create", &server, raw.as_ref());
        if !spread && let Some(url) = self.database_url.clone() {
            self.floor(id, &label, &owner, &url, clients, server.per_second)
                .await?;
        }
        if transactions > 0.0 {
            self.report.value(
                id,
                &label,
                "creations per transaction",
                format!("{:.1}", requests / transactions),
                None,
            );
        }
        Ok(())
    }

    /// The one-statement floor beside a creation scenario: pgbench at the same concurrency (at
    /// most 64 connections, beside the server's pool, within PostgreSQL's 100), and the server's
    /// ratio to it (S1 at 64 clients: at least 1.5).
    async fn floor(
        &mut self,
        id: &str,
        label: &str,
        owner: &Api,
        url: &str,
        clients: usize,
        server_per_second: f64,
    ) -> anyhow::Result<()> {
        let project = owner.project(&key("F")).await?;
        let todo = owner
            .statuses(&project)
            .await?
            .into_iter()
            .find(|(_, category)| category == "todo")
            .map(|(id, _)| id)
            .context("no todo status")?;
        let connections = clients.min(64);
        let (url, duration) = (url.to_owned(), self.duration);
        let measured = tokio::task::spawn_blocking(move || {
            crate::floor::measure(&url, &project, &todo, connections, duration)
        })
        .await?;
        match measured {
            Ok(floor) => {
                self.report.value(
                    id,
                    label,
                    &format!("one-statement floor ({connections} connections)"),
                    format!(
                        "{:.0}/s, mean {:.1} ms",
                        floor.per_second,
                        floor.latency.as_secs_f64() * 1000.0
                    ),
                    None,
                );
                let ratio = server_per_second / floor.per_second.max(f64::MIN_POSITIVE);
                let target = (clients == 64).then_some(("≥ 1.5", ratio >= 1.5));
                self.report
                    .value(id, label, "server / floor", format!("{ratio:.2}"), target);
            }
            Err(why) => self.report.note(format!("{id} {label}: no floor: {why}")),
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

    /// S3: board traffic (80 % board pages of 100, 15 % moves, 5 % creates).
    pub async fn s3(&mut self) -> anyhow::Result<()> {
        for clients in [64, 200] {
            let owner = self.owner("s3").await?;
            let project = owner.project(&key("B")).await?;
            let tasks = Arc::new(owner.fill(&project, 1_000).await?);
            self.analyze().await?;
            let statuses: Arc<Vec<String>> = Arc::new(
                owner
                    .statuses(&project)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
            );
            let api = owner.clone();
            let kinds = Arc::new(Mutex::new(HashMap::<&'static str, Vec<Sample>>::new()));
            let recorded = kinds.clone();
            let (_, elapsed) = drive(clients, self.duration, BUDGET, move |c, n| {
                let (api, project, tasks, statuses, recorded) = (
                    api.clone(),
                    project.clone(),
                    tasks.clone(),
                    statuses.clone(),
                    recorded.clone(),
                );
                async move {
                    let (kind, sample) =
                        board_request(&api, &project, &tasks, &statuses, c, n).await;
                    recorded.lock().await.entry(kind).or_default().push(sample);
                    sample
                }
            })
            .await;
            let kinds = kinds.lock().await;
            let all: Vec<Sample> = kinds.values().flatten().copied().collect();
            let label = format!("{clients} clients");
            self.report
                .stats("S3", &label, "all", &Stats::of(&all, elapsed), None);
            for kind in ["board", "move", "create"] {
                if let Some(samples) = kinds.get(kind) {
                    self.report
                        .stats("S3", &label, kind, &Stats::of(samples, elapsed), None);
                }
            }
        }
        Ok(())
    }

    /// S4: WebSocket clients in one project room while creates arrive at 200/s.
    pub async fn s4(&mut self) -> anyhow::Result<()> {
        let clients = if self.quick { 100 } else { 1_000 };
        let owner = self.owner("s4").await?;
        let project = owner.project(&key("F")).await?;
        let room = format!("project:{project}");
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let mut readers = Vec::with_capacity(clients);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        for _ in 0..clients {
            let ticket = owner.ticket().await?;
            let url = format!("{ws_base}/api/v1/ws?ticket={ticket}");
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
            let join = json!({"type": "join", "data": {"room": room}}).to_string();
            futures::SinkExt::send(&mut socket, Message::Text(join.into())).await?;
            // Wait for `joined` before the next client, so every socket is in the room.
            while let Some(message) = socket.next().await {
                if let Message::Text(text) = message?
                    && text.contains(r#""type":"joined""#)
                {
                    break;
                }
            }
            let mut stopped = stopped.clone();
            readers.push(tokio::spawn(async move {
                let mut received = HashMap::new();
                // Reads until the creates are over and the last frames had time to arrive.
                loop {
                    let message = tokio::select! {
                        _ = stopped.changed() => break,
                        message = socket.next() => match message {
                            Some(Ok(message)) => message,
                            _ => break,
                        },
                    };
                    // A substring search, not a JSON parse: a thousand readers in this process
                    // must not starve the server of the CPU it is being measured on.
                    if let Message::Text(text) = message
                        && text.contains(r#""type":"task_created""#)
                        && let Some(number) = number_in(&text)
                    {
                        received.insert(number, Instant::now());
                    }
                }
                anyhow::Ok(received)
            }));
        }
        // 200 creates per second, each on its own task so that a slow one does not delay the
        // schedule.
        let sent = Arc::new(Mutex::new(HashMap::<u64, (Instant, Instant)>::new()));
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        let deadline = Instant::now() + self.duration;
        let mut creates = Vec::new();
        let mut errors = 0;
        while Instant::now() < deadline {
            ticks.tick().await;
            let (api, project, sent) = (owner.clone(), project.clone(), sent.clone());
            creates.push(tokio::spawn(async move {
                let started = Instant::now();
                let answer = api.create(&project, "fan-out").await?;
                anyhow::ensure!(
                    answer.status == StatusCode::CREATED,
                    "a create answered {}: {}",
                    answer.status,
                    answer.body
                );
                let number = answer.body["number"].as_u64().context("no number")?;
                sent.lock().await.insert(number, (started, Instant::now()));
                anyhow::Ok(())
            }));
        }
        let mut reasons = Vec::new();
        for create in creates {
            let failure = match create.await {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => format!("{error:#}"),
                Err(error) => error.to_string(),
            };
            errors += 1;
            if reasons.len() < 3 && !reasons.contains(&failure) {
                reasons.push(failure);
            }
        }
        for reason in reasons {
            self.report.note(format!("S4: {reason}"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.send(true)?;
        let sent = sent.lock().await.clone();
        let (mut after_response, mut after_request, mut received) = (Vec::new(), Vec::new(), 0u64);
        for reader in readers {
            if let Ok(Ok(got)) = reader.await {
                received += got.len() as u64;
                for (number, at) in got {
                    if let Some((request, response)) = sent.get(&number) {
                        after_response.push(at.saturating_duration_since(*response));
                        after_request.push(at.duration_since(*request));
                    }
                }
            }
        }
        let expected = sent.len() as u64 * clients as u64;
        self.report.fanout(
            clients,
            sent.len(),
            errors,
            &mut after_response,
            &mut after_request,
            expected,
            received,
        );
        Ok(())
    }

    /// S7: a client that missed 10,000 events rejoins with `since` and catches up from the log;
    /// the time until its last missed event arrived, and events per second. Also checks that it
    /// got exactly the missed `seq`s, in order.
    pub async fn s7(&mut self) -> anyhow::Result<()> {
        let missed: u64 = if self.quick { 1_000 } else { 10_000 };
        let owner = self.owner("s7").await?;
        let project = owner.project(&key("R")).await?;
        // Batches of 500 creations: one event each (and one status change at the start).
        owner.fill(&project, usize::try_from(missed)?).await?;
        let head = owner
            .must(
                Method::GET,
                &format!("/projects/{project}/events?after={}&limit=1000", missed - 1),
                None,
                StatusCode::OK,
            )
            .await?["next_after"]
            .as_u64()
            .context("no next_after")?;
        let ticket = owner.ticket().await?;
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("{ws_base}/api/v1/ws?ticket={ticket}"))
                .await?;
        let join =
            json!({"type": "join", "data": {"room": format!("project:{project}"), "since": 0}});
        let started = Instant::now();
        futures::SinkExt::send(&mut socket, Message::Text(join.to_string().into())).await?;
        let mut next = 1;
        let mut out_of_order = 0u64;
        let deadline = started + Duration::from_secs(120);
        while next <= head && Instant::now() < deadline {
            let message = match tokio::time::timeout_at(deadline.into(), socket.next()).await {
                Ok(Some(Ok(message))) => message,
                _ => break,
            };
            if let Message::Text(text) = message
                && let Some(seq) = seq_in(&text)
            {
                if seq != next {
                    out_of_order += 1;
                }
                next = seq + 1;
            }
        }
        let took = started.elapsed();
        let caught_up = next > head;
        let case = format!("{head} missed events");
        self.report.millis("S7", &case, "catch-up time", took, None);
        self.report.value(
            "S7",
            &case,
            "events/s",
            format!("{:.0}", head as f64 / took.as_secs_f64()),
            None,
        );
        self.report.value(
            "S7",
            &case,
            "all, in order, once",
            format!("{}", caught_up && out_of_order == 0),
            Some(("true", caught_up && out_of_order == 0)),
        );
        Ok(())
    }

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

/// Request `n` of client `c` in S3's board traffic: a fixed mix spread over the clients, 16
/// board pages of 100 tasks, 3 moves and 1 create per 20. Its kind and its sample.
pub(crate) async fn board_request(
    api: &Api,
    project: &str,
    tasks: &[String],
    statuses: &[String],
    c: usize,
    n: u64,
) -> (&'static str, Sample) {
    let started = Instant::now();
    let pick = (c as u64 * 7 + n) % 20;
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
            (
                "board",
                api.call_unparsed(Method::GET, &path, None).await,
                StatusCode::OK,
            )
        }
    };
    let sample = match answer {
        Ok(answer) => answer.sample(expected),
        Err(_) => transport_error(started),
    };
    (kind, sample)
}

/// The task number in a `task_created` frame (`"number":42`).
fn number_in(frame: &str) -> Option<u64> {
    let start = frame.find(r#""number":"#)? + r#""number":"#.len();
    let digits: String = frame[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
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

/// The server's coalesced creation counters so far: (requests, transactions). Zero against a
/// server that does not coalesce (or another implementation, `--target`).
async fn creation_batches(api: &Api) -> (f64, f64) {
    let page = api.metrics().await.unwrap_or_default();
    (
        metric(&page, "tasklane_task_creations_per_transaction_sum"),
        metric(&page, "tasklane_task_creations_per_transaction_count"),
    )
}

/// The `"seq":N` of an event frame, found without parsing the frame.
fn seq_in(frame: &str) -> Option<u64> {
    let start = frame.find(r#""seq":"#)? + 6;
    let digits: String = frame[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
