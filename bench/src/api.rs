//! The HTTP API as the load generator uses it: keep-alive HTTP/1.1 through one shared client.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::load::Sample;

/// A client of one server, signed in as one user.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `http://host:port`.
    pub base: String,
    token: String,
    /// The signed-in user's id.
    pub user_id: String,
    /// Their email (the password is always [`PASSWORD`]).
    pub email: String,
}

/// The password of every user the bench registers.
pub const PASSWORD: &str = "correct horse battery";

/// An answer: status, `X-Db-Statements`, body.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// Statements the request sent.
    pub statements: Option<u32>,
    /// The JSON body (`Null` when none).
    pub body: Value,
    /// Its `ETag`, if any.
    pub etag: Option<String>,
    /// How long it took.
    pub latency: Duration,
}

impl Answer {
    /// The answer as a load sample; `ok` when the status is `expected`.
    pub fn sample(&self, expected: StatusCode) -> Sample {
        Sample {
            latency: self.latency,
            ok: self.status == expected,
            server_error: self.status.is_server_error(),
            statements: self.statements,
        }
    }
}

/// A shared HTTP client sized for `connections` concurrent requests.
pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

impl Api {
    /// Registers a new user (unique email) on `base` and signs in.
    ///
    /// # Errors
    /// When registration fails.
    pub async fn register(http: reqwest::Client, base: &str, name: &str) -> anyhow::Result<Api> {
        let email = format!("{name}-{}@bench.example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD, "display_name": name});
        let response = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(&body)
            .send()
            .await?;
        if response.status() != StatusCode::CREATED {
            bail!("register: {} {}", response.status(), response.text().await?);
        }
        let session: Value = response.json().await?;
        Ok(Api {
            http,
            base: base.to_owned(),
            token: session["access_token"]
                .as_str()
                .context("no token")?
                .to_owned(),
            user_id: session["user"]["id"]
                .as_str()
                .context("no user id")?
                .to_owned(),
            email,
        })
    }

    /// Sends one request.
    ///
    /// # Errors
    /// When it cannot be sent (a refused answer is not an error).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        self.send(method, path, body, true, None).await
    }

    /// As [`Api::call`], reading the body without parsing it.
    ///
    /// # Errors
    /// When it cannot be sent.
    pub async fn call_unparsed(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        self.send(method, path, body, false, None).await
    }

    /// A `GET` of `path` unparsed, conditional on `held`, the `ETag` of the copy the client
    /// holds (`If-None-Match`), as a client that keeps the board it last read.
    ///
    /// # Errors
    /// When it cannot be sent.
    pub async fn get_unless(&self, path: &str, held: Option<&str>) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, None, false, held).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        parse: bool,
        held: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let started = Instant::now();
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(held) = held {
            request = request.header(reqwest::header::IF_NONE_MATCH, held);
        }
        let response = request.send().await?;
        let status = response.status();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let statements = response
            .headers()
            .get("x-db-statements")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await?;
        let latency = started.elapsed();
        // Board pages are ~70 KB: parsing them would cost the generator more CPU than the server
        // spends; only what the bench reads is parsed.
        let body = if parse {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Ok(Answer {
            status,
            statements,
            body,
            etag,
            latency,
        })
    }

    /// A request that must succeed with `expected`.
    ///
    /// # Errors
    /// When it does not.
    pub async fn must(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let answer = self.call(method.clone(), path, body).await?;
        if answer.status != expected {
            bail!("{method} {path}: {} {}", answer.status, answer.body);
        }
        Ok(answer.body)
    }

    /// Creates a project keyed `key`; its id.
    ///
    /// # Errors
    /// When creation fails.
    pub async fn project(&self, key: &str) -> anyhow::Result<String> {
        let body = self
            .must(
                Method::POST,
                "/projects",
                Some(json!({"key": key, "name": key})),
                StatusCode::CREATED,
            )
            .await?;
        Ok(body["id"].as_str().context("no project id")?.to_owned())
    }

    /// The project's statuses (id, category).
    ///
    /// # Errors
    /// When the request fails.
    pub async fn statuses(&self, project: &str) -> anyhow::Result<Vec<(String, String)>> {
        let body = self
            .must(
                Method::GET,
                &format!("/projects/{project}/statuses"),
                None,
                StatusCode::OK,
            )
            .await?;
        Ok(body
            .as_array()
            .context("statuses")?
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_owned(),
                    s["category"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    /// Creates one task.
    ///
    /// # Errors
    /// When the request cannot be sent.
    pub async fn create(&self, project: &str, title: &str) -> anyhow::Result<Answer> {
        self.call(
            Method::POST,
            &format!("/projects/{project}/tasks"),
            Some(json!({"title": title})),
        )
        .await
    }

    /// Creates `tasks` (request bodies) in one batch; the answer's body.
    ///
    /// # Errors
    /// When the batch is not created.
    pub async fn batch(&self, project: &str, tasks: Vec<Value>) -> anyhow::Result<Value> {
        self.must(
            Method::POST,
            &format!("/projects/{project}/tasks/batch"),
            Some(json!({"tasks": tasks})),
            StatusCode::CREATED,
        )
        .await
    }

    /// Creates `count` tasks in batches of up to 500; their ids.
    ///
    /// # Errors
    /// When a batch fails.
    pub async fn fill(&self, project: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        while ids.len() < count {
            let n = (count - ids.len()).min(500);
            let tasks: Vec<_> = (0..n)
                .map(|i| json!({"title": format!("seed {}", ids.len() + i)}))
                .collect();
            let body = self.batch(project, tasks).await?;
            for task in body["items"].as_array().context("batch answer")? {
                ids.push(task["id"].as_str().unwrap_or_default().to_owned());
            }
        }
        Ok(ids)
    }

    /// A single-use WebSocket ticket.
    ///
    /// # Errors
    /// When none is issued.
    pub async fn ticket(&self) -> anyhow::Result<String> {
        let body = self
            .must(
                Method::POST,
                "/auth/ws-ticket",
                Some(json!({})),
                StatusCode::OK,
            )
            .await?;
        Ok(body["ticket"].as_str().context("no ticket")?.to_owned())
    }

    /// The `/metrics` text.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?)
    }
}

/// The sum of the samples of `series` (a full series name with labels) on a `/metrics` page.
pub fn metric(page: &str, series: &str) -> f64 {
    page.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, _)| *name == series)
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}
