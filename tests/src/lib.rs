//! End-to-end test support: boots the real server (the same `run` and `AppState` as the binary)
//! on an ephemeral port over a fresh database — a SQLite file or a PostgreSQL schema per test —
//! and drives it over real HTTP.

pub mod browser;
pub mod redis;
pub mod ws;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tasklane_cache::{Caches, MemoryCache};
use tasklane_domain::ports::EventBroadcaster;
use tasklane_realtime::{Directory, Realtime, RealtimeHub, RealtimeOptions, RelayOptions};
use tasklane_server::realtime::ServicesDirectory;
use tasklane_server::settings::{JwtSecret, Settings};
use tasklane_server::{AppState, run, run_metrics};
use tasklane_store::testing::TestDb;

/// A running server for one test, its database (dropped with it), and an HTTP client.
#[derive(Debug)]
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Where `/metrics` listens when the settings give it an address of its own.
    pub metrics_address: Option<SocketAddr>,
    /// Its database (shared when several instances run over one database).
    pub db: Arc<TestDb>,
    /// A client without cookies or redirects.
    pub client: reqwest::Client,
}

/// An answer: status, headers and the JSON body (or `Null`).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// The header's text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `body[field]` as text.
    pub fn text(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }
}

/// A registered user with a live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's id.
    pub id: String,
    /// Their access token.
    pub token: String,
    /// Their refresh token.
    pub refresh: String,
}

/// The access-token secret of every test server (tests sign their own tokens with it).
pub fn jwt_secret() -> JwtSecret {
    JwtSecret(b"test secret, at least thirty-two bytes long".to_vec())
}

/// Starts the server on `127.0.0.1:0` over `db`, in the background.
///
/// # Errors
/// When no port can be bound or the state cannot be built.
pub fn spawn_app(db: TestDb) -> anyhow::Result<TestApp> {
    spawn_app_config(Arc::new(db), AppConfig::default())
}

/// As [`spawn_app`], with the given caches (Redis, for the degradation tests).
///
/// # Errors
/// When no port can be bound or the state cannot be built.
pub fn spawn_app_with(db: TestDb, caches: Caches) -> anyhow::Result<TestApp> {
    let config = AppConfig {
        caches,
        ..AppConfig::default()
    };
    spawn_app_config(Arc::new(db), config)
}

/// How to build one server instance.
pub struct AppConfig {
    /// Its caches (the in-process cache by default).
    pub caches: Caches,
    /// The realtime limits.
    pub realtime: RealtimeOptions,
    /// The Redis relay to other instances, if any.
    pub relay: Option<RelayOptions>,
    /// A broadcaster to use instead of the hub (a blocked or failing one).
    pub broadcaster: Option<Arc<dyn EventBroadcaster>>,
    /// Its settings.
    pub settings: Settings,
    /// Wraps the realtime directory the server would use (a test hook: pause a membership
    /// read to force a race).
    pub directory: Option<DirectoryLayer>,
}

/// A wrapper around the realtime directory.
pub type DirectoryLayer = Box<dyn FnOnce(Arc<dyn Directory>) -> Arc<dyn Directory> + Send>;

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("realtime", &self.realtime)
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            caches: Caches::new(Arc::new(MemoryCache::default())),
            realtime: RealtimeOptions::default(),
            relay: None,
            broadcaster: None,
            settings: Settings::default(),
            directory: None,
        }
    }
}

/// Starts a server instance over `db` (several may share one) as `config` says.
///
/// # Errors
/// When no port can be bound or the state cannot be built.
pub fn spawn_app_config(db: Arc<TestDb>, config: AppConfig) -> anyhow::Result<TestApp> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let secret = jwt_secret();
    let settings = config.settings;
    let hub = RealtimeHub::start(config.realtime, config.relay)?;
    let broadcaster = config.broadcaster.unwrap_or_else(|| Arc::new(hub.handle()));
    let state = AppState::with_broadcaster(
        db.store.clone(),
        config.caches,
        &hub,
        broadcaster,
        &settings,
        &secret,
    )?;
    let state = match config.directory {
        Some(wrap) => {
            let inner = Arc::new(ServicesDirectory::new(
                state.services.clone(),
                state.caches.clone(),
                state.tickets.clone(),
                Arc::new(db.store.clone()),
            ));
            AppState {
                realtime: Realtime::new(&hub, wrap(inner)),
                ..state
            }
        }
        None => state,
    };
    let metrics_address = match &settings.metrics_bind {
        Some(bind) => {
            let metrics_listener = TcpListener::bind(bind)?;
            let metrics_address = metrics_listener.local_addr()?;
            tokio::spawn(run_metrics(metrics_listener, state.clone())?);
            Some(metrics_address)
        }
        None => None,
    };
    tokio::spawn(run(listener, state)?);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(TestApp {
        address,
        metrics_address,
        db,
        client,
    })
}

impl TestApp {
    /// The URL of `path` (`/api/v1/...` or `/healthz`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    ///
    /// # Errors
    /// When the request cannot be sent.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        self.call_with(method, path, token, body, &[]).await
    }

    /// As [`TestApp::call`], with extra headers.
    ///
    /// # Errors
    /// When the request cannot be sent.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("sending {path}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The `/metrics` text.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn metrics(&self) -> anyhow::Result<Metrics> {
        let url = match self.metrics_address {
            Some(address) => format!("http://{address}/metrics"),
            None => self.url("/metrics"),
        };
        let response = self.client.get(url).send().await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "/metrics answered {}",
            response.status()
        );
        Ok(Metrics(response.text().await?))
    }

    /// `GET` with a token.
    ///
    /// # Errors
    /// When the request cannot be sent.
    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Answer> {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// `POST` JSON with a token.
    ///
    /// # Errors
    /// When the request cannot be sent.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Registers `name` (`name@example.com`, password `correct horse`) and returns the session.
    ///
    /// # Errors
    /// When registration does not answer 201.
    pub async fn register(&self, name: &str) -> anyhow::Result<Session> {
        let body = json!({"email": format!("{name}@example.com"), "password": "correct horse", "display_name": name});
        let answer = self
            .call(Method::POST, "/api/v1/auth/register", None, Some(body))
            .await?;
        anyhow::ensure!(
            answer.status == StatusCode::CREATED,
            "register {name}: {answer:?}"
        );
        Ok(Session {
            id: answer.body["user"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            token: answer.text("access_token"),
            refresh: answer.text("refresh_token"),
        })
    }

    /// Creates a project keyed `key` as `owner` and returns its id.
    ///
    /// # Errors
    /// When creation does not answer 201.
    pub async fn project(&self, owner: &Session, key: &str) -> anyhow::Result<String> {
        let answer = self
            .post(
                "/api/v1/projects",
                &owner.token,
                json!({"key": key, "name": format!("Project {key}")}),
            )
            .await?;
        anyhow::ensure!(
            answer.status == StatusCode::CREATED,
            "project {key}: {answer:?}"
        );
        Ok(answer.text("id"))
    }

    /// Creates a task titled `title` in `project` and returns its JSON.
    ///
    /// # Errors
    /// When creation does not answer 201.
    pub async fn task(&self, actor: &Session, project: &str, title: &str) -> anyhow::Result<Value> {
        let answer = self
            .post(
                &format!("/api/v1/projects/{project}/tasks"),
                &actor.token,
                json!({"title": title}),
            )
            .await?;
        anyhow::ensure!(
            answer.status == StatusCode::CREATED,
            "task {title}: {answer:?}"
        );
        Ok(answer.body)
    }

    /// Creates `tasks` (request bodies) in `project` in one batch, as `actor`.
    ///
    /// # Errors
    /// When the batch does not answer 201.
    pub async fn batch(
        &self,
        actor: &Session,
        project: &str,
        tasks: Vec<Value>,
    ) -> anyhow::Result<Value> {
        let answer = self
            .post(
                &format!("/api/v1/projects/{project}/tasks/batch"),
                &actor.token,
                json!({"tasks": tasks}),
            )
            .await?;
        anyhow::ensure!(answer.status == StatusCode::CREATED, "batch: {answer:?}");
        Ok(answer.body)
    }

    /// Gives `user` `role` in `project`, as `owner`.
    ///
    /// # Errors
    /// When the call does not answer 200.
    pub async fn member(
        &self,
        owner: &Session,
        project: &str,
        user: &Session,
        role: &str,
    ) -> anyhow::Result<()> {
        let path = format!("/api/v1/projects/{project}/members/{}", user.id);
        let answer = self
            .call(
                Method::PUT,
                &path,
                Some(&owner.token),
                Some(json!({"role": role})),
            )
            .await?;
        anyhow::ensure!(answer.status == StatusCode::OK, "member: {answer:?}");
        Ok(())
    }
}

/// A `/metrics` scrape in Prometheus text format.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The value of one series, named as it appears on the page, e.g.
    /// `tasklane_agg_bootstrap_cache_total{result="hit"}` or `tasklane_redis_up`.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.0.lines().find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    /// Whether any sample of the metric `name` (a histogram's `_bucket`, `_sum` or `_count`
    /// included) is on the page.
    pub fn has(&self, name: &str) -> bool {
        self.0.lines().any(|line| {
            let rest = line.strip_prefix(name).unwrap_or("#");
            let rest = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| rest.strip_prefix(suffix))
                .unwrap_or(rest);
            !line.starts_with('#') && rest.starts_with(['{', ' '])
        })
    }

    /// The sum of every sample of `name` whose labels include all of `labels`
    /// (e.g. `[("result", "hit")]`); for a histogram pass `name_count`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let rest = series.strip_prefix(name)?;
                let matches = (rest.is_empty() || rest.starts_with('{'))
                    && labels
                        .iter()
                        .all(|(key, v)| rest.contains(&format!("{key}=\"{v}\"")));
                matches.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }
}

/// Runs each listed `async fn(TestApp) -> anyhow::Result<()>` on a server over SQLite and over
/// PostgreSQL.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::spawn_app(tasklane_store::testing::TestDb::sqlite().await?)?).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::spawn_app(tasklane_store::testing::TestDb::postgres().await?)?).await
                }
            )+
        }
    };
}
