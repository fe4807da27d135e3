//! The SQL floors: a task creation issued by `pgbench` against the same database in the same run,
//! at the same concurrency as the scenario beside it, with no server in between. Two shapes:
//!
//! - **one statement** in autocommit (counter, column sequence, insert and aggregation in one
//!   CTE): what a server could at best reach with one transaction per creation and no work of
//!   its own;
//! - **four round trips**, `BEGIN; SELECT; create; COMMIT`: the realistic shape of a server that
//!   reads its context (membership, the todo column) before writing.
//!
//! Each runs into one project (S1) or spread over many (S2: every transaction picks one of the
//! projects at random, by key). Scenarios report the server's ratio to each.

use std::process::Command;
use std::time::Duration;

use crate::cpu::{Meter, Shares};

/// The creation statement, with pgbench variables for the project and its todo column.
const CREATE: &str = "\
WITH p AS (UPDATE projects SET task_counter = task_counter + 1, updated_at = now() \
           WHERE id = ':project'::uuid RETURNING task_counter), \
     s AS (UPDATE statuses SET append_seq = append_seq + 1 WHERE id = ':status'::uuid RETURNING append_seq), \
     i AS (INSERT INTO tasks (id, project_id, number, title, status_id, priority, task_type, rank, row_version, \
             created_at, updated_at) \
           SELECT gen_random_uuid(), ':project'::uuid, p.task_counter, 'floor', ':status'::uuid, 'medium', 'task', \
             chr(96 + length(s.append_seq::text)) || s.append_seq::text, 1, now(), now() FROM p, s RETURNING 1) \
UPDATE project_aggregations SET total = total + 1, todo = todo + 1, updated_at = now() \
WHERE project_id = ':project'::uuid AND EXISTS (SELECT 1 FROM i);
";

/// The context read of the four-round-trip shape: the viewer's membership and the todo column,
/// its project chosen by `:which` (an id, or a key).
fn context(which: &str) -> String {
    format!(
        "SELECT p.id AS project, s.id AS status, m.role FROM projects p \
         JOIN project_members m ON m.project_id = p.id AND m.user_id = ':user'::uuid \
         JOIN statuses s ON s.project_id = p.id AND s.category = 'todo' \
         WHERE {which} ORDER BY s.position LIMIT 1\n\\gset\n"
    )
}

/// Where the creations go.
#[derive(Debug, Clone)]
pub enum Projects {
    /// One project and its todo column.
    One {
        /// The project's id.
        project: String,
        /// Its todo column's id.
        status: String,
    },
    /// `count` projects keyed `<base>00001` … (their todo column found by the statement).
    Many {
        /// The keys' common start.
        base: String,
        /// How many there are.
        count: usize,
    },
}

/// The two shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One statement in autocommit.
    OneStatement,
    /// `BEGIN; SELECT; create; COMMIT`.
    FourRoundTrips,
}

impl Shape {
    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::OneStatement => "one-statement floor",
            Shape::FourRoundTrips => "four-round-trip floor",
        }
    }
}

/// The pgbench script of `shape` into `projects`.
fn script(shape: Shape, projects: &Projects) -> String {
    let by_key = "p.key = ':base' || lpad(':n', 5, '0')";
    match (shape, projects) {
        (Shape::OneStatement, Projects::One { .. }) => CREATE.to_owned(),
        // The project and its column are looked up in the statement: a key and a column by index.
        (Shape::OneStatement, Projects::Many { .. }) => format!(
            "\\set n random(1, :count)\n{}",
            CREATE
                .replacen(
                    "WITH ",
                    &format!(
                        "WITH t AS (SELECT p.id AS project, s.id AS status FROM projects p \
                         JOIN statuses s ON s.project_id = p.id AND s.category = 'todo' \
                         WHERE {by_key} ORDER BY s.position LIMIT 1), "
                    ),
                    1,
                )
                .replace("':project'::uuid", "(SELECT project FROM t)")
                .replace("':status'::uuid", "(SELECT status FROM t)")
        ),
        (Shape::FourRoundTrips, Projects::One { .. }) => format!(
            "BEGIN;\n{}{CREATE}COMMIT;\n",
            context("p.id = ':project'::uuid")
        ),
        (Shape::FourRoundTrips, Projects::Many { .. }) => format!(
            "\\set n random(1, :count)\nBEGIN;\n{}{CREATE}COMMIT;\n",
            context(by_key)
        ),
    }
}

/// What pgbench measured.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Creations per second.
    pub per_second: f64,
    /// Mean latency.
    pub latency: Duration,
    /// Where the CPU went meanwhile (pgbench counts as the load generator).
    pub cpu: Shares,
}

/// Runs `shape` for `duration` with `clients` connections as `user` into `projects`. An error
/// (with the reason) when pgbench is missing or fails: the floor is a figure of the report, not
/// a precondition of the run.
pub fn measure(
    database_url: &str,
    shape: Shape,
    projects: &Projects,
    user: &str,
    clients: usize,
    duration: Duration,
) -> Result<Floor, String> {
    let script_path = std::env::temp_dir().join(format!(
        "tasklane-floor-{}-{shape:?}.sql",
        std::process::id()
    ));
    std::fs::write(&script_path, script(shape, projects)).map_err(|e| e.to_string())?;
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", "simple", "-j", "2"])
        .arg(format!("-c{clients}"))
        .arg(format!("-T{}", duration.as_secs().max(1)))
        .arg(format!("-Duser={user}"));
    match projects {
        Projects::One { project, status } => {
            command
                .arg(format!("-Dproject={project}"))
                .arg(format!("-Dstatus={status}"));
        }
        Projects::Many { base, count } => {
            command
                .arg(format!("-Dbase={base}"))
                .arg(format!("-Dcount={count}"));
        }
    }
    let meter = Meter::start(None);
    let output = command
        .arg("-f")
        .arg(&script_path)
        .arg(database_url)
        .output()
        .map_err(|e| format!("pgbench could not be started: {e}"))?;
    let cpu = meter.shares();
    let _ = std::fs::remove_file(&script_path);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    let number_after = |label: &str| {
        text.lines()
            .find(|line| line.starts_with(label))
            .and_then(|line| line[label.len()..].split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    };
    let per_second = number_after("tps = ").ok_or("pgbench printed no tps")?;
    let latency_ms = number_after("latency average = ").unwrap_or(0.0);
    Ok(Floor {
        per_second,
        latency: Duration::from_secs_f64(latency_ms / 1000.0),
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_have_the_round_trips_their_shape_names() {
        let one = Projects::One {
            project: "p".into(),
            status: "s".into(),
        };
        let many = Projects::Many {
            base: "G".into(),
            count: 3,
        };
        let statements = |text: &str| text.lines().filter(|l| l.ends_with(';')).count();
        assert_eq!(statements(&script(Shape::OneStatement, &one)), 1);
        assert_eq!(statements(&script(Shape::OneStatement, &many)), 1);
        // BEGIN, the create, COMMIT, and the context read ended by \gset.
        for projects in [&one, &many] {
            let text = script(Shape::FourRoundTrips, projects);
            assert_eq!(statements(&text), 3, "{text}");
            assert_eq!(text.matches("\\gset").count(), 1, "{text}");
        }
        let spread = script(Shape::OneStatement, &many);
        assert!(!spread.contains("':project'") && !spread.contains("':status'"));
        assert!(spread.starts_with("\\set n random(1, :count)"));
    }
}
