//! `cargo xtask bench`: builds the server and the load generator in release mode and runs the
//! generator (`bench/`), which starts the server against a fresh PostgreSQL database and Redis,
//! runs the scenarios of docs/performance.md and reports. With `--target URL` nothing is started.

use std::process::Command;

use anyhow::{Context, bail};

use crate::tidy::workspace_root;

/// Builds and runs the bench with `args` (forwarded to `tasklane-bench`).
///
/// # Errors
/// When the build fails or the bench reports a failure.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let root = workspace_root();
    let external = args.iter().any(|a| a == "--target");
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(&root)
        .args(["build", "--release", "--locked", "-p", "tasklane-bench"]);
    if !external {
        build.args(["-p", "tasklane-server"]);
    }
    if !build.status().context("cannot run cargo build")?.success() {
        bail!("the release build failed");
    }
    let mut bench = Command::new(root.join("target/release/tasklane-bench"));
    bench.current_dir(&root).args(args);
    if !external {
        bench.args(["--server-bin", "target/release/tasklane"]);
    }
    if !bench.status().context("cannot run the bench")?.success() {
        bail!("the bench failed (see above)");
    }
    Ok(())
}
