//! Redis changes speed, never correctness or availability. Each test runs the real server over
//! PostgreSQL with a Redis cache pointed at its own `redis-server` (a free port, so it can stop
//! and pause it), under a unique key prefix.
//!
//! The bootstrap cache is on the request path only while a project has no aggregation row, so
//! the tests delete that row (as legacy or imported data would lack it) before the creates that
//! should consult Redis.
//!
//! The tests share the process's metrics recorder, so they run one at a time and compare counter
//! deltas rather than absolute values.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tasklane_cache::{Caches, RedisCache, RedisOptions};
use tasklane_store::testing::TestDb;
use tasklane_tests::redis::RedisServer;
use tasklane_tests::{Metrics, Session, TestApp, spawn_app_with};

/// The per-call Redis timeout the server runs with here (its default).
const TIMEOUT: Duration = Duration::from_millis(50);
/// How long the breaker skips Redis before probing again (shortened from 1 s for the tests).
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// Scheduling noise allowed on top of a bound (2 cores, busy with the rest of the suite).
const SLACK: Duration = Duration::from_millis(150);

const BOOTSTRAP: &str = "tasklane_agg_bootstrap_cache_total";

/// One test at a time: the metrics recorder is process-wide.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Fixture {
    app: TestApp,
    owner: Session,
    prefix: String,
}

async fn fixture(redis_url: &str) -> anyhow::Result<Fixture> {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let options = RedisOptions {
        timeout: TIMEOUT,
        probe_interval: PROBE_INTERVAL,
        prefix: prefix.clone(),
        ..RedisOptions::default()
    };
    let redis = RedisCache::connect(redis_url, options).await?;
    let app = spawn_app_with(TestDb::postgres().await?, Caches::new(redis))?;
    let owner = app.register("owner").await?;
    Ok(Fixture { app, owner, prefix })
}

impl Fixture {
    /// A project with `tasks` tasks and no aggregation row.
    async fn orphan_project(&self, key: &str, tasks: usize) -> anyhow::Result<String> {
        let project = self.app.project(&self.owner, key).await?;
        for n in 0..tasks {
            self.app
                .task(&self.owner, &project, &format!("task {n}"))
                .await?;
        }
        self.drop_aggregation(&project).await?;
        Ok(project)
    }

    async fn drop_aggregation(&self, project: &str) -> anyhow::Result<()> {
        self.app
            .db
            .execute(&format!(
                "DELETE FROM project_aggregations WHERE project_id = '{project}'"
            ))
            .await
    }

    /// Creates a task and returns how long the request took.
    async fn timed_create(&self, project: &str, title: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let answer = self
            .app
            .post(
                &format!("/api/v1/projects/{project}/tasks"),
                &self.owner.token,
                json!({"title": title}),
            )
            .await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            answer.status == StatusCode::CREATED,
            "create {title}: {answer:?}"
        );
        Ok(elapsed)
    }

    /// `count` creates in `project`, each made to bootstrap (and so to consult the cache) by
    /// dropping the aggregation row first; returns their latencies.
    async fn bootstrapping_creates(
        &self,
        project: &str,
        count: usize,
    ) -> anyhow::Result<Vec<Duration>> {
        let mut latencies = Vec::with_capacity(count);
        for n in 0..count {
            self.drop_aggregation(project).await?;
            latencies.push(self.timed_create(project, &format!("burst {n}")).await?);
        }
        Ok(latencies)
    }

    /// The stored aggregation total and a recount of the live tasks.
    async fn totals(&self, project: &str) -> anyhow::Result<(i64, i64)> {
        let db = &self.app.db;
        let stored = db
            .scalar(&format!(
                "SELECT total FROM project_aggregations WHERE project_id = '{project}'"
            ))
            .await?;
        let live = db
            .scalar(&format!(
                "SELECT count(*) FROM tasks WHERE project_id = '{project}' AND archived_at IS NULL"
            ))
            .await?;
        Ok((stored, live))
    }

    fn bootstrap_key(&self, project: &str) -> String {
        format!("{}project_agg_init:{project}", self.prefix)
    }

    async fn readiness(&self) -> anyhow::Result<String> {
        let ready = self.app.call(Method::GET, "/readyz", None, None).await?;
        anyhow::ensure!(ready.status == StatusCode::OK, "readyz: {ready:?}");
        Ok(ready.text("redis"))
    }

    async fn bootstrap_counter(&self, result: &str) -> anyhow::Result<f64> {
        Ok(self
            .app
            .metrics()
            .await?
            .sum(BOOTSTRAP, &[("result", result)]))
    }

    /// Waits up to `limit` for `/metrics` to show `tasklane_redis_up` = `up`; returns how long.
    async fn wait_for_redis_up(&self, up: f64, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let metrics = self.app.metrics().await?;
            if metrics.value("tasklane_redis_up") == Some(up) {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "tasklane_redis_up did not become {up} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Waits until `check` holds, for at most 2 s (detached cache writes land shortly after the
/// response).
async fn eventually(what: &str, check: impl Fn() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !check()? {
        anyhow::ensure!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn slowest(latencies: &[Duration]) -> Duration {
    latencies.iter().copied().max().unwrap_or_default()
}

fn median(latencies: &[Duration]) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// A report line for the closing note (run with `--nocapture` to see it).
fn report(label: &str, latencies: &[Duration]) {
    eprintln!(
        "create latency, {label}: n={} median={:?} max={:?}",
        latencies.len(),
        median(latencies),
        slowest(latencies)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_serves_degraded_and_recovers_within_the_probe_interval()
-> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let port = RedisServer::free_port()?;
    let f = fixture(&format!("redis://127.0.0.1:{port}")).await?;

    assert_eq!(f.readiness().await?, "degraded");
    assert_eq!(f.app.metrics().await?.value("tasklane_redis_up"), Some(0.0));
    let errors_before = f.bootstrap_counter("error").await?;
    let project = f.orphan_project("DOWN", 3).await?;
    let latencies = f.bootstrapping_creates(&project, 10).await?;
    report("Redis down from the start", &latencies);
    assert!(
        f.bootstrap_counter("error").await? >= errors_before + 10.0,
        "every skipped look-up is counted as an error"
    );
    let (stored, live) = f.totals(&project).await?;
    assert_eq!((stored, live), (13, 13));

    // Redis comes up: the background probe notices within its interval.
    let mut redis = RedisServer::start_on(port).await?;
    let waited = f
        .wait_for_redis_up(1.0, PROBE_INTERVAL + Duration::from_secs(2))
        .await?;
    assert!(
        waited <= PROBE_INTERVAL + SLACK,
        "back up after {waited:?}, probe interval {PROBE_INTERVAL:?}"
    );
    assert_eq!(f.readiness().await?, "up");

    // And the cache is used again: a miss writes the key after commit, the next bootstrap hits.
    let (hits, misses) = (
        f.bootstrap_counter("hit").await?,
        f.bootstrap_counter("miss").await?,
    );
    let fresh = f.orphan_project("BACK", 2).await?;
    f.timed_create(&fresh, "miss").await?;
    let key = f.bootstrap_key(&fresh);
    eventually("the recount is cached", || {
        Ok(redis.cli(&["EXISTS", &key])? == "1")
    })
    .await?;
    assert_eq!(
        redis.cli(&["GET", &key])?,
        "3,3,0,0,0,0,3",
        "the row after the commit, at tasks version 3 (three counted creations)"
    );
    f.drop_aggregation(&fresh).await?;
    f.timed_create(&fresh, "hit").await?;
    eventually("the used key is deleted", || {
        Ok(redis.cli(&["EXISTS", &key])? == "0")
    })
    .await?;
    assert_eq!(f.bootstrap_counter("hit").await?, hits + 1.0);
    assert_eq!(f.bootstrap_counter("miss").await?, misses + 1.0);
    assert_eq!(f.totals(&fresh).await?, (4, 4), "the hit was exact");
    redis.stop()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_bootstrap_entry_is_never_used() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().await?;
    let f = fixture(&redis.url()).await?;
    let project = f.orphan_project("STALE", 2).await?;
    f.timed_create(&project, "cached").await?;
    let key = f.bootstrap_key(&project);
    eventually("the recount is cached", || {
        Ok(redis.cli(&["EXISTS", &key])? == "1")
    })
    .await?;
    // A change after the entry was written makes it stale...
    f.timed_create(&project, "after the entry").await?;
    f.drop_aggregation(&project).await?;
    let hits = f.bootstrap_counter("hit").await?;
    let misses = f.bootstrap_counter("miss").await?;
    f.timed_create(&project, "bootstrap").await?;
    // ...so the bootstrap recounts (a miss) and the row is exact.
    assert_eq!(f.bootstrap_counter("hit").await?, hits);
    assert_eq!(f.bootstrap_counter("miss").await?, misses + 1.0);
    assert_eq!(f.totals(&project).await?, (5, 5));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_keep_succeeding_within_the_timeout_when_redis_dies_mid_run() -> anyhow::Result<()>
{
    let _serial = SERIAL.lock().await;
    let mut redis = RedisServer::start().await?;
    let f = fixture(&redis.url()).await?;
    let project = f.orphan_project("DIES", 5).await?;
    let usual = f.bootstrapping_creates(&project, 50).await?;
    report("Redis up", &usual);
    let errors = f.bootstrap_counter("error").await?;

    redis.stop()?;
    let down = f.bootstrapping_creates(&project, 100).await?;
    report("Redis stopped mid-run", &down);
    let bound = slowest(&usual) + TIMEOUT + SLACK;
    assert!(
        slowest(&down) <= bound,
        "slowest create {:?} with Redis down; bound {bound:?}",
        slowest(&down)
    );
    assert!(f.bootstrap_counter("error").await? >= errors + 100.0);
    assert_eq!(f.readiness().await?, "degraded");
    f.wait_for_redis_up(0.0, Duration::from_secs(1)).await?;
    assert_eq!(f.totals(&project).await?, (155, 155));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_keep_succeeding_within_the_timeout_when_redis_is_paused() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().await?;
    let f = fixture(&redis.url()).await?;
    let project = f.orphan_project("PAUSE", 5).await?;
    let usual = f.bootstrapping_creates(&project, 50).await?;
    report("Redis up", &usual);

    // Up but silent: every call would hang for the whole pause without the timeout.
    let pause = Duration::from_secs(4);
    let paused_at = Instant::now();
    redis.pause(pause)?;
    let paused = f.bootstrapping_creates(&project, 100).await?;
    let during_pause = paused_at.elapsed() < pause;
    report("Redis paused (CLIENT PAUSE)", &paused);
    let bound = slowest(&usual) + TIMEOUT + SLACK;
    assert!(
        slowest(&paused) <= bound,
        "slowest create {:?} with Redis paused; bound {bound:?}",
        slowest(&paused)
    );
    assert!(during_pause, "the creates outlasted the pause; lengthen it");
    let failures = f.app.metrics().await?;
    assert!(failures.sum("tasklane_redis_failures_total", &[("reason", "timeout")]) >= 3.0);
    assert!(failures.sum("tasklane_redis_failures_total", &[("reason", "skipped")]) >= 1.0);
    assert_eq!(f.totals(&project).await?, (155, 155));

    // When the pause ends, the probe brings it back.
    tokio::time::sleep(pause.saturating_sub(paused_at.elapsed())).await;
    f.wait_for_redis_up(1.0, PROBE_INTERVAL + Duration::from_secs(2))
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_that_rolls_back_after_the_bootstrap_writes_no_cache_key() -> anyhow::Result<()>
{
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().await?;
    let f = fixture(&redis.url()).await?;
    let project = f.orphan_project("ROLL", 2).await?;
    // The task insert fails, but only once the aggregation row exists: the first attempt rolls
    // back for the missing row as usual, the bootstrap runs, and the retried creation fails.
    f.app
        .db
        .execute(
            "CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.title = 'doomed' AND EXISTS (SELECT 1 FROM project_aggregations a WHERE a.project_id = NEW.project_id) \
               THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER tasks_refuse_doomed BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_doomed();",
        )
        .await?;
    let misses = f.bootstrap_counter("miss").await?;

    let answer = f
        .app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &f.owner.token,
            json!({"title": "doomed"}),
        )
        .await?;
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{answer:?}"
    );
    assert_eq!(
        f.bootstrap_counter("miss").await?,
        misses + 1.0,
        "the bootstrap ran"
    );
    // Give a detached write every chance to land, then look for any key of this test.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(redis.cli(&["KEYS", &format!("{}*", f.prefix)])?, "");
    assert_eq!(f.totals(&project).await?, (2, 2));

    // The next creation commits, and only then is the key written.
    f.timed_create(&project, "fine").await?;
    let key = f.bootstrap_key(&project);
    assert_eq!(redis.cli(&["EXISTS", &key])?, "0", "the row exists now");
    assert_eq!(f.totals(&project).await?, (3, 3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_named_metric_is_on_the_metrics_page_after_a_create() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start().await?;
    let f = fixture(&redis.url()).await?;
    let project = f.orphan_project("METR", 1).await?;
    f.timed_create(&project, "observed").await?;
    let metrics: Metrics = f.app.metrics().await?;
    for name in [
        "tasklane_task_creation_duration_seconds",
        "tasklane_agg_bootstrap_cache_total",
        "tasklane_redis_cache_hit_ratio",
        "tasklane_db_statements_per_request",
        "tasklane_agg_conflicts_total",
        "tasklane_redis_up",
        "tasklane_ws_broadcast_failures_total",
        "tasklane_http_request_duration_seconds",
    ] {
        assert!(
            metrics.has(name),
            "{name} missing from /metrics:\n{}",
            metrics.0
        );
    }
    let created = [("cache_hit", "false"), ("redis_available", "true")];
    assert!(metrics.sum("tasklane_task_creation_duration_seconds_count", &created) >= 1.0);
    let route = [
        ("method", "POST"),
        ("route", "/api/v1/projects/{id}/tasks"),
        ("status", "201"),
    ];
    assert!(metrics.sum("tasklane_http_request_duration_seconds_count", &route) >= 2.0);
    let statements = [("route", "/api/v1/projects/{id}/tasks")];
    assert!(metrics.sum("tasklane_db_statements_per_request_count", &statements) >= 2.0);
    assert_eq!(metrics.value("tasklane_redis_up"), Some(1.0));
    let ratio = metrics
        .value("tasklane_redis_cache_hit_ratio")
        .unwrap_or(-1.0);
    assert!((0.0..=1.0).contains(&ratio), "hit ratio {ratio}");
    Ok(())
}

/// The helper itself: `sum` matches labels, `has` sees histogram series.
#[test]
fn the_metrics_helper_reads_prometheus_text() {
    let page = Metrics(
        "# TYPE x counter\nx{result=\"hit\"} 2\nx{result=\"miss\"} 3\nh_bucket{le=\"0.1\"} 1\nh_count 4\ng 1\n"
            .to_owned(),
    );
    assert_eq!(page.sum("x", &[("result", "hit")]), 2.0);
    assert_eq!(page.sum("x", &[]), 5.0);
    assert!(page.has("h") && page.has("g") && !page.has("y"));
    assert_eq!(page.value("g"), Some(1.0));
}
