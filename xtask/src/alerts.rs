//! The Prometheus alert rules (`ops/prometheus/alerts.yml`) are valid and do what their unit
//! tests (`alerts_test.yml`) say: `promtool check rules` and `promtool test rules`, run by
//! `cargo test`. `promtool` comes with Debian's `prometheus` package, which `.ci/run` installs.

#[cfg(test)]
mod tests {
    use std::process::Command;

    use crate::tidy::workspace_root;

    fn promtool(args: &[&str]) {
        let directory = workspace_root().join("ops/prometheus");
        let output = Command::new("promtool")
            .args(args)
            .current_dir(&directory)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "promtool could not run ({e}): install it with `apt-get install prometheus` \
                     (what .ci/run does)"
                )
            });
        assert!(
            output.status.success(),
            "promtool {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn the_alert_rules_are_valid() {
        promtool(&["check", "rules", "alerts.yml"]);
    }

    #[test]
    fn each_alert_fires_when_its_test_says_and_only_then() {
        promtool(&["test", "rules", "alerts_test.yml"]);
    }
}
