//! Architecture checks, run by `cargo test` (rust-analyzer's `tidy.rs` habit): the domain crate
//! depends on no framework, every crate follows the workspace conventions, every source file
//! opens with a `//!` comment, no file points at a document the repository lacks, CI runs the
//! README's test command, no crate has an import cycle between its modules, no domain port names
//! a service, the server's state holds no store, and the store binds entity values through its
//! dialect (no `ActiveModel` write, no `find_by_id`).

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Crates the domain must never depend on, by name prefix.
#[cfg(test)]
const FORBIDDEN_IN_DOMAIN: &[&str] = &[
    "actix",
    "sea-orm",
    "sea-query",
    "sqlx",
    "redis",
    "deadpool",
    "hyper",
    "reqwest",
    "tungstenite",
    "axum",
    "tower",
    "utoipa",
];

/// Tokio features that mean IO; the domain may only use the runtime to detach effects.
#[cfg(test)]
const FORBIDDEN_TOKIO_FEATURES: &[&str] = &["net", "io-util", "io-std", "fs", "process", "full"];

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn manifest(path: &Path) -> toml::Table {
        read(path)
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn string_list(value: Option<&toml::Value>) -> Vec<String> {
        value
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn member_manifests() -> Vec<PathBuf> {
        let root = workspace_root();
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path().join("Cargo.toml"))
            .collect();
        manifests.extend(["migrations", "tests", "xtask"].map(|d| root.join(d).join("Cargo.toml")));
        manifests
    }

    #[test]
    fn the_domain_manifest_names_no_framework_and_no_tokio_io() {
        let root = workspace_root();
        let domain = manifest(&root.join("crates/tasklane-domain/Cargo.toml"));
        let dependencies = domain["dependencies"].as_table().unwrap();
        for name in dependencies.keys() {
            assert!(
                !FORBIDDEN_IN_DOMAIN.iter().any(|f| name.starts_with(f)),
                "the domain crate must not depend on {name}"
            );
        }
        // Features of an inherited dependency add to the workspace's, so check both.
        let workspace = manifest(&root.join("Cargo.toml"));
        let workspace_tokio = &workspace["workspace"]["dependencies"]["tokio"];
        let mut features = string_list(workspace_tokio.get("features"));
        features.extend(string_list(dependencies["tokio"].get("features")));
        for feature in &features {
            assert!(
                !FORBIDDEN_TOKIO_FEATURES.contains(&feature.as_str()),
                "tokio feature {feature}"
            );
        }
        assert_eq!(
            workspace_tokio
                .get("default-features")
                .and_then(toml::Value::as_bool),
            Some(false)
        );
    }

    #[test]
    fn the_domain_resolves_to_no_framework_crate_and_no_tokio_io() {
        // `cargo tree -p` resolves features as a build of the domain alone would.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .current_dir(workspace_root())
            .args([
                "tree",
                "--offline",
                "-p",
                "tasklane-domain",
                "-e",
                "normal,build",
            ])
            .args(["--prefix", "none", "--format", "{p} [{f}]"])
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tree = String::from_utf8(output.stdout).unwrap();
        let mut saw_tokio = false;
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            assert!(
                !FORBIDDEN_IN_DOMAIN.iter().any(|f| name.starts_with(f)),
                "the domain crate pulls in {line}"
            );
            if name == "tokio" {
                saw_tokio = true;
                let features = line
                    .rsplit_once('[')
                    .map(|(_, f)| f.trim_end_matches(']'))
                    .unwrap_or("");
                for feature in features.split(',') {
                    assert!(
                        !FORBIDDEN_TOKIO_FEATURES.contains(&feature.trim()),
                        "tokio with {feature}"
                    );
                }
            }
        }
        assert!(saw_tokio, "the check must see the domain's tokio: {tree}");
    }

    #[test]
    fn every_crate_follows_the_workspace_conventions() {
        for path in member_manifests() {
            let crate_manifest = manifest(&path);
            let package = crate_manifest["package"].as_table().unwrap();
            let name = path.display();
            assert_eq!(
                package["version"].as_str(),
                Some("0.0.0"),
                "{name}: version"
            );
            assert!(
                package["publish"].get("workspace").is_some(),
                "{name}: publish.workspace"
            );
            assert_eq!(
                crate_manifest["lints"]["workspace"].as_bool(),
                Some(true),
                "{name}: lints"
            );
            for section in ["dependencies", "dev-dependencies"] {
                let Some(deps) = crate_manifest.get(section).and_then(toml::Value::as_table) else {
                    continue;
                };
                for (dep, spec) in deps {
                    assert_eq!(
                        spec.get("workspace").and_then(toml::Value::as_bool),
                        Some(true),
                        "{name}: {dep} must come from [workspace.dependencies]"
                    );
                }
            }
        }
    }

    #[test]
    fn every_source_file_opens_with_a_module_comment() {
        let root = workspace_root();
        let mut stack: Vec<PathBuf> = ["crates", "migrations", "tests", "xtask"]
            .map(|d| root.join(d))
            .to_vec();
        let mut missing = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = read(&path);
                    let first = text
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default();
                    if !first.starts_with("//!") {
                        missing.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "files without a //! opening comment: {missing:#?}"
        );
    }

    #[test]
    fn ci_runs_the_readme_test_command() {
        let root = workspace_root();
        let readme = read(&root.join("README.md"));
        let command = readme
            .lines()
            .skip_while(|l| !l.contains("Run all tests"))
            .find(|l| l.trim_start().starts_with("cargo "))
            .expect("README names the test command under 'Run all tests'")
            .trim();
        let ci = read(&root.join(".ci/run"));
        assert!(
            ci.lines().any(|l| l.trim() == command),
            ".ci/run must run `{command}`"
        );
    }

    /// Every text file of the repository that people read, `vendor/` and `target/` aside.
    fn text_files(root: &Path) -> Vec<PathBuf> {
        let mut stack = vec![root.to_path_buf()];
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() {
                    if !["target", "vendor", ".git", "data"].contains(&name.as_str())
                        && !name.starts_with(".hypothesis")
                        && name != ".schemathesis"
                    {
                        stack.push(path);
                    }
                } else if ["rs", "md", "toml", "yml", "yaml", "sh"]
                    .iter()
                    .any(|e| name.ends_with(&format!(".{e}")))
                    || name == "run"
                {
                    files.push(path);
                }
            }
        }
        files
    }

    #[test]
    fn no_file_points_at_a_document_the_repository_lacks() {
        let root = workspace_root();
        let files = text_files(&root);
        let documents: std::collections::BTreeSet<String> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let mut dangling = Vec::new();
        for path in &files {
            let text = read(path);
            let shown = path
                .strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string();
            // Spelled in pieces so that this file does not name them itself.
            let outside = [["..", "/shared"].concat(), ["shared", "/spec"].concat()];
            if outside.iter().any(|o| text.contains(o.as_str())) {
                dangling.push(format!("{shown}: a path outside the repository"));
            }
            let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)));
            for word in words.filter(|w| w.ends_with(".md") && w.len() > 3) {
                let name = word.rsplit('/').next().unwrap_or(word);
                if !documents.contains(name) {
                    dangling.push(format!("{shown}: {word}"));
                }
            }
        }
        dangling.sort();
        dangling.dedup();
        assert!(
            dangling.is_empty(),
            "references to documents the repository does not have: {dangling:#?}"
        );
    }

    /// The source folders of the workspace's crates.
    fn crate_sources() -> Vec<PathBuf> {
        member_manifests()
            .into_iter()
            .filter_map(|m| m.parent().map(|d| d.join("src")))
            .filter(|src| src.is_dir())
            .collect()
    }

    fn describe(reference: &crate::modules::Reference) -> String {
        let module = |m: &[String]| {
            if m.is_empty() {
                "crate".to_owned()
            } else {
                m.join("::")
            }
        };
        format!(
            "{} → {} ({}: `{}`)",
            module(&reference.from),
            module(&reference.to),
            reference
                .file
                .strip_prefix(workspace_root())
                .unwrap_or(&reference.file)
                .display(),
            reference.text
        )
    }

    #[test]
    fn no_crate_has_an_import_cycle_between_its_modules() {
        let mut found = Vec::new();
        for src in crate_sources() {
            for cycle in crate::modules::ModuleGraph::read(&src).sibling_cycles() {
                found.push(cycle.iter().map(describe).collect::<Vec<_>>());
            }
        }
        assert!(
            found.is_empty(),
            "import cycles between modules: {found:#?}"
        );
    }

    #[test]
    fn no_domain_port_names_a_service() {
        let src = workspace_root().join("crates/tasklane-domain/src");
        let graph = crate::modules::ModuleGraph::read(&src);
        let upward: Vec<String> = graph
            .references
            .iter()
            .filter(|r| r.from.first().is_some_and(|m| m == "ports"))
            .filter(|r| r.to.first().is_some_and(|m| m == "services"))
            .map(describe)
            .collect();
        assert!(upward.is_empty(), "ports naming services: {upward:#?}");
    }

    #[test]
    fn the_servers_state_holds_services_and_ports_not_the_store() {
        let src = workspace_root().join("crates/tasklane-server/src");
        let state = read(&src.join("state.rs"));
        let words: Vec<&str> = state
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        assert!(
            !words.contains(&"Store") && !words.contains(&"tasklane_store"),
            "state.rs must hold services and ports, not the store"
        );
        // Only the composition root and the metrics registry (the store's metric names and its
        // per-request statement scope) name the store crate.
        let allowed = ["main.rs", "wiring.rs", "metrics.rs"];
        let mut stack = vec![src.clone()];
        let mut naming = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !(path.parent() == Some(src.as_path())
                        && allowed.iter().any(|a| path.ends_with(a)))
                    && read(&path).contains("tasklane_store")
                {
                    naming.push(path.display().to_string());
                }
            }
        }
        assert!(
            naming.is_empty(),
            "server files naming the store: {naming:#?}"
        );
    }

    /// An entity's id or time converts to a value only in PostgreSQL's form (SQLite stores
    /// text), so the store binds every value through its `Dialect`: no `ActiveModel` write and
    /// no `find_by_id`, which would bind an id as a 16-byte blob on SQLite and match nothing.
    #[test]
    fn the_store_binds_entity_values_through_its_dialect() {
        let src = workspace_root().join("crates/tasklane-store/src");
        let forbidden = [
            "::ActiveModel",
            "ActiveModel::",
            "ActiveValue",
            "into_active_model",
            "Set(",
            ".save(",
            "find_by_id(",
            "delete_by_id(",
        ];
        let mut stack = vec![src];
        let mut found = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = read(&path);
                    for (n, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or("");
                        if forbidden.iter().any(|f| code.contains(f)) {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "entity writes or id lookups that bypass the dialect: {found:#?}"
        );
    }
}
