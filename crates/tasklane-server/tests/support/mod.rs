//! Runs the real `tasklane` binary for the tests that need a process of its own: with only the
//! given settings, its log read line by line, until it says where it listens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A running binary, its base URL, and the lines of its log still unread.
pub struct Instance {
    pub child: Child,
    pub base: String,
    pub lines: Receiver<String>,
}

/// Starts the binary with a cleared environment and `settings`, listening on a free port.
///
/// # Errors
/// When it cannot be started or does not say where it listens within a minute.
pub fn start(settings: &[(&str, &str)]) -> anyhow::Result<Instance> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TASKLANE_BIND", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        if let Some(start) = line.find("http://") {
            let base = line[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return Ok(Instance { child, base, lines });
        }
    }
}
