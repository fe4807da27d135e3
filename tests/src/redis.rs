//! A private `redis-server` for one test, on a free port, that the test may stop, restart and
//! pause without touching the shared Redis on 6379.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A `redis-server` child process; killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// A port nothing listens on (yet).
    ///
    /// # Errors
    /// When no port can be bound.
    pub fn free_port() -> anyhow::Result<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    /// Starts a server on a free port and waits until it answers.
    ///
    /// # Errors
    /// When `redis-server` cannot be started or does not answer within 5 s.
    pub async fn start() -> anyhow::Result<RedisServer> {
        Self::start_on(Self::free_port()?).await
    }

    /// Starts a server on `port` and waits until it answers.
    ///
    /// # Errors
    /// When `redis-server` cannot be started or does not answer within 5 s.
    pub async fn start_on(port: u16) -> anyhow::Result<RedisServer> {
        let mut server = RedisServer { port, child: None };
        server.restart().await?;
        Ok(server)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (no shutdown courtesy: connections just break) and waits for it to go.
    ///
    /// # Errors
    /// When the process cannot be killed.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing redis-server")?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and waits until it answers.
    ///
    /// # Errors
    /// When it cannot be started or does not answer within 5 s.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (is it installed?)")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).is_ok_and(|answer| answer == "PONG") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("redis-server on port {} did not answer", self.port)
    }

    /// Suspends every client for `duration` (`CLIENT PAUSE … ALL`): Redis is up but silent.
    ///
    /// # Errors
    /// When the command fails.
    pub fn pause(&self, duration: Duration) -> anyhow::Result<()> {
        let millis = duration.as_millis().to_string();
        let answer = self.cli(&["CLIENT", "PAUSE", &millis, "ALL"])?;
        anyhow::ensure!(answer == "OK", "CLIENT PAUSE answered {answer:?}");
        Ok(())
    }

    /// Ends a pause early (`CLIENT UNPAUSE`).
    ///
    /// # Errors
    /// When the command fails.
    pub fn unpause(&self) -> anyhow::Result<()> {
        self.cli(&["CLIENT", "UNPAUSE"]).map(drop)
    }

    /// Runs one command with `redis-cli` and returns its trimmed output.
    ///
    /// # Errors
    /// When `redis-cli` fails.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .context("running redis-cli")?;
        anyhow::ensure!(
            output.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Best effort: a test that failed must not leave a server behind.
        let _ = self.stop();
    }
}
