//! The module graph of a crate, read from its source text: which module's code names which
//! other module of the same crate (`use crate::…`, `super::…`, and paths written inline).
//!
//! The tidy checks hold it to two rules. Within each module, its child modules form no cycle
//! once every reference is lifted to the children it runs between (so `a::x → b` and `b → a`
//! is a cycle between siblings `a` and `b`); a module naming its own descendants or ancestors
//! is not an arrow between siblings and does not count. And the domain's ports never name its
//! services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside its crate, as segments after `crate` (the root is empty).
pub type ModulePath = Vec<String>;

/// One reference from the code of `from` to the module `to`, written in `file`.
#[derive(Debug, Clone)]
pub struct Reference {
    pub from: ModulePath,
    pub to: ModulePath,
    pub file: PathBuf,
    pub text: String,
}

/// Every reference between the modules of a crate.
#[derive(Debug)]
pub struct ModuleGraph {
    pub references: Vec<Reference>,
}

/// The module path of a file under `src`: `lib.rs`/`main.rs` is the root, `a/mod.rs` and `a.rs`
/// are `a`, `a/b.rs` is `a::b`. Binaries under `src/bin` are crates of their own: `None`.
fn module_of(src: &Path, file: &Path) -> Option<ModulePath> {
    let relative = file.strip_prefix(src).ok()?;
    let mut segments: Vec<String> = relative
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if segments.first().is_some_and(|s| s == "bin") {
        return None;
    }
    let last = segments.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if segments.is_empty() && (stem == "lib" || stem == "main") {
        return Some(Vec::new());
    }
    if stem != "mod" {
        segments.push(stem.to_owned());
    }
    Some(segments)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The text of a file with comments and string literals blanked, so that paths in them are
/// not read as references.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            '"' => {
                out.push(' ');
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Expands one `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand_use)
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Every path starting with `crate`, `super` or `self` in `code` (a file's code, comments and
/// strings blanked), with the inline module (`mod x { … }`) it is written in.
fn paths_in(code: &str) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    // The inline modules open at each point: (name, brace depth inside it).
    let mut inline: Vec<(String, i32)> = Vec::new();
    let mut depth = 0;
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    let word_at = |i: usize| -> String {
        bytes[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect()
    };
    while i < bytes.len() {
        let c = bytes[i];
        let boundary = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth -= 1;
            inline.retain(|(_, d)| *d <= depth);
        } else if boundary && (c.is_alphabetic() || c == '_') {
            let word = word_at(i);
            if word == "mod" {
                let rest: String = bytes[i + 3..].iter().take(80).collect();
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let after = rest.trim_start()[name.len()..].trim_start();
                if !name.is_empty() && after.starts_with('{') {
                    inline.push((name, depth + 1));
                }
            } else if word == "use" {
                let end = bytes[i..]
                    .iter()
                    .position(|c| *c == ';')
                    .map_or(bytes.len(), |p| i + p);
                let tree: String = bytes[i + 3..end].iter().collect();
                let scope: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
                for path in expand_use(&tree) {
                    found.push((scope.clone(), path));
                }
                i = end;
                continue;
            } else if ["crate", "super", "self"].contains(&word.as_str()) {
                let path: String = bytes[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == ':')
                    .collect();
                if path.contains("::") {
                    let scope: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
                    found.push((scope, path.clone()));
                }
                i += path.len();
                continue;
            }
            i += word.len();
            continue;
        }
        i += 1;
    }
    found
}

/// The module a path written in module `at` names: the longest prefix that is a module.
fn resolve(path: &str, at: &ModulePath, modules: &BTreeSet<ModulePath>) -> Option<ModulePath> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut current: ModulePath = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("super" | "self") => at.clone(),
        _ => return None,
    };
    while let Some(segment) = segments.peek().copied() {
        match segment {
            "self" => {
                segments.next();
            }
            "super" => {
                segments.next();
                current.pop()?;
            }
            _ => break,
        }
    }
    for segment in segments {
        let mut next = current.clone();
        next.push(segment.to_owned());
        if !modules.contains(&next) {
            break;
        }
        current = next;
    }
    Some(current)
}

impl ModuleGraph {
    /// Reads the crate whose sources are under `src`.
    pub fn read(src: &Path) -> ModuleGraph {
        let files: Vec<(PathBuf, ModulePath)> = rust_files(src)
            .into_iter()
            .filter_map(|f| module_of(src, &f).map(|m| (f, m)))
            .collect();
        let mut modules: BTreeSet<ModulePath> = files.iter().map(|(_, m)| m.clone()).collect();
        let mut per_file = Vec::new();
        for (file, module) in &files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let paths = paths_in(&code_only(&text));
            // Inline modules are modules too, so that `super` inside one resolves.
            for (scope, _) in &paths {
                for n in 1..=scope.len() {
                    let mut inline = module.clone();
                    inline.extend(scope[..n].iter().cloned());
                    modules.insert(inline);
                }
            }
            per_file.push((file.clone(), module.clone(), paths));
        }
        let mut references = Vec::new();
        for (file, module, paths) in per_file {
            for (scope, path) in paths {
                let mut at = module.clone();
                at.extend(scope);
                let Some(mut to) = resolve(&path, &at, &modules) else {
                    continue;
                };
                // A reference into an inline module is a reference to its file's module.
                while !files.iter().any(|(_, m)| *m == to) && !to.is_empty() {
                    to.pop();
                }
                if to != module {
                    references.push(Reference {
                        from: module.clone(),
                        to,
                        file: file.clone(),
                        text: path,
                    });
                }
            }
        }
        ModuleGraph { references }
    }

    /// The cycles among the children of each module, as the references that make them up.
    pub fn sibling_cycles(&self) -> Vec<Vec<Reference>> {
        // parent → (child → child → references)
        let mut arrows: BTreeMap<ModulePath, BTreeMap<String, BTreeMap<String, Vec<Reference>>>> =
            BTreeMap::new();
        for reference in &self.references {
            let common = reference
                .from
                .iter()
                .zip(&reference.to)
                .take_while(|(a, b)| a == b)
                .count();
            // One contains the other: a module and its own descendants or ancestors.
            if common == reference.from.len() || common == reference.to.len() {
                continue;
            }
            arrows
                .entry(reference.from[..common].to_vec())
                .or_default()
                .entry(reference.from[common].clone())
                .or_default()
                .entry(reference.to[common].clone())
                .or_default()
                .push(reference.clone());
        }
        let mut cycles = Vec::new();
        for children in arrows.values() {
            for (a, targets) in children {
                for (b, forward) in targets {
                    if a < b
                        && let Some(back) = reaches(children, b, a)
                    {
                        let mut cycle = vec![forward[0].clone()];
                        cycle.extend(back);
                        cycles.push(cycle);
                    }
                }
            }
        }
        // Longer cycles (a → b → c → a) with no two-way pair.
        for children in arrows.values() {
            for a in children.keys() {
                if let Some(path) = reaches_through_another(children, a)
                    && !cycles
                        .iter()
                        .any(|c| c.iter().any(|r| path.iter().any(|p| p.text == r.text)))
                {
                    cycles.push(path);
                }
            }
        }
        cycles
    }
}

type Arrows = BTreeMap<String, BTreeMap<String, Vec<Reference>>>;

/// A path of references from `from` to `to` among siblings, if any.
fn reaches(children: &Arrows, from: &str, to: &str) -> Option<Vec<Reference>> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(String, Vec<Reference>)> = vec![(from.to_owned(), Vec::new())];
    while let Some((at, path)) = stack.pop() {
        if !seen.insert(at.clone()) {
            continue;
        }
        for (next, references) in children.get(&at).into_iter().flatten() {
            let mut path = path.clone();
            path.push(references[0].clone());
            if next == to {
                return Some(path);
            }
            stack.push((next.clone(), path));
        }
    }
    None
}

/// A cycle from `start` back to itself through at least two other siblings, if any.
fn reaches_through_another(children: &Arrows, start: &str) -> Option<Vec<Reference>> {
    for (next, references) in children.get(start).into_iter().flatten() {
        if let Some(mut back) = reaches(children, next, start)
            && back.len() >= 2
        {
            back.insert(0, references[0].clone());
            return Some(back);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_trees_expand_into_their_paths() {
        assert_eq!(
            expand_use(" crate::a::{b, c::{d, e}, f}"),
            [
                "crate::a::b",
                "crate::a::c::d",
                "crate::a::c::e",
                "crate::a::f"
            ]
        );
        assert_eq!(expand_use("super::x"), ["super::x"]);
    }

    #[test]
    fn paths_are_read_from_code_not_from_comments_or_strings() {
        let code = code_only(
            "//! see crate::a\nuse crate::b::C;\nfn f() { let s = \"crate::c\"; super::d::e(); }\nmod tests {\n    use super::*;\n}\n",
        );
        let paths = paths_in(&code);
        let texts: Vec<&str> = paths.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(texts, ["crate::b::C", "super::d::e", "super::*"]);
        assert_eq!(paths[2].0, ["tests"]);
    }

    #[test]
    fn a_cycle_between_siblings_is_found_through_their_descendants() {
        let dir = std::env::temp_dir().join(format!("tidy-modules-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("a")).unwrap();
        std::fs::write(src.join("lib.rs"), "//! x\nmod a;\nmod b;\nmod c;\n").unwrap();
        std::fs::write(src.join("a/mod.rs"), "//! x\nmod x;\n").unwrap();
        std::fs::write(
            src.join("a/x.rs"),
            "//! x\nuse crate::b::f;\nuse super::y;\n",
        )
        .unwrap();
        std::fs::write(src.join("b.rs"), "//! x\nfn g() { crate::a::h(); }\n").unwrap();
        std::fs::write(src.join("c.rs"), "//! x\nuse crate::a::x;\n").unwrap();
        let graph = ModuleGraph::read(&src);
        let cycles = graph.sibling_cycles();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(cycles.len(), 1, "{cycles:#?}");
        let texts: Vec<&str> = cycles[0].iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["crate::b::f", "crate::a::h"]);
    }
}
