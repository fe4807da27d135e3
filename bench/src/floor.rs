//! The one-statement floor: a task creation as one statement in autocommit (counter, column
//! sequence, insert and aggregation in one CTE), issued by `pgbench` at a given concurrency
//! against the same database in the same run. It is what a server could at best reach with one
//! transaction per creation and no work of its own; S1 reports the server's ratio to it.

use std::process::Command;
use std::time::Duration;

/// The statement, with pgbench variables for the project and its todo column.
const SCRIPT: &str = "\
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

/// What pgbench measured.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Creations per second.
    pub per_second: f64,
    /// Mean latency.
    pub latency: Duration,
}

/// Runs the floor for `duration` with `clients` connections into `project`'s todo column
/// `status`. `None` (with the reason) when pgbench is missing or fails: the floor is a figure of
/// the report, not a precondition of the run.
pub fn measure(
    database_url: &str,
    project: &str,
    status: &str,
    clients: usize,
    duration: Duration,
) -> Result<Floor, String> {
    let script = std::env::temp_dir().join(format!("tasklane-floor-{}.sql", std::process::id()));
    std::fs::write(&script, SCRIPT).map_err(|e| e.to_string())?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "simple", "-j", "2"])
        .arg(format!("-c{clients}"))
        .arg(format!("-T{}", duration.as_secs().max(1)))
        .arg(format!("-Dproject={project}"))
        .arg(format!("-Dstatus={status}"))
        .arg("-f")
        .arg(&script)
        .arg(database_url)
        .output()
        .map_err(|e| format!("pgbench could not be started: {e}"))?;
    let _ = std::fs::remove_file(&script);
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
    })
}
