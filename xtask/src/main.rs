//! `cargo xtask`: project automation. Architecture checks live in [`tidy`] and the alert-rule
//! checks in [`alerts`]; both run as tests.
//!
//! Commands:
//! - `cargo xtask ci`: what CI runs (`.ci/run`): fmt check, clippy with `-D warnings`, the tests.
//! - `cargo xtask bench [--scenario S1,...] [--target URL] [--duration SECS] [--quick]`: the
//!   benchmarks of docs/performance.md (see [`bench`]).

mod alerts;
mod bench;
#[cfg(test)]
mod modules;
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
        Some("bench") => bench::run(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci       run what CI runs (.ci/run)\n  bench    the benchmarks of docs/performance.md (--scenario, --target, --duration, --quick)"
            );
            bail!("unknown task {task:?}")
        }
    }
}
