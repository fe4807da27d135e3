//! `cargo xtask`: project automation. Architecture checks live in [`tidy`] and run as tests.
//!
//! Commands:
//! - `cargo xtask ci`: what CI runs (`.ci/run`): fmt check, clippy with `-D warnings`, the tests.

mod tidy;

use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => {
            let status = Command::new("bash")
                .arg(".ci/run")
                .current_dir(tidy::workspace_root())
                .status()
                .context("cannot run .ci/run")?;
            if !status.success() {
                bail!(".ci/run failed");
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: cargo xtask <task>\n\ntasks:\n  ci    run what CI runs (.ci/run)");
            bail!("unknown task {task:?}")
        }
    }
}
