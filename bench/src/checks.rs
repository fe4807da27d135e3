//! Correctness after a run, straight from the database: every aggregation row equals a recount,
//! every project has one, task numbers and event sequences are gap-free, and no request got a
//! 5xx.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::report::Report;

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Runs the checks and adds them to `report`.
///
/// # Errors
/// When the database cannot be queried.
pub async fn run(db: &DatabaseConnection, report: &mut Report) -> anyhow::Result<()> {
    let drift = count(
        db,
        "SELECT count(*) FROM project_aggregations a LEFT JOIN ( \
           SELECT t.project_id, count(*) AS total, \
             count(*) FILTER (WHERE s.category = 'todo') AS todo, \
             count(*) FILTER (WHERE s.category = 'in_progress') AS in_progress, \
             count(*) FILTER (WHERE s.category = 'in_review') AS in_review, \
             count(*) FILTER (WHERE s.category = 'issue') AS issue, \
             count(*) FILTER (WHERE s.category = 'done') AS done \
           FROM tasks t JOIN statuses s ON s.id = t.status_id WHERE t.archived_at IS NULL GROUP BY t.project_id) r \
         ON r.project_id = a.project_id \
         WHERE (a.total, a.todo, a.in_progress, a.in_review, a.issue, a.done) IS DISTINCT FROM \
           (coalesce(r.total, 0), coalesce(r.todo, 0), coalesce(r.in_progress, 0), coalesce(r.in_review, 0), \
            coalesce(r.issue, 0), coalesce(r.done, 0))",
    )
    .await?;
    let projects = count(db, "SELECT count(*) FROM projects").await?;
    report.checks.push((
        "aggregation equals recount".into(),
        drift == 0,
        format!("{drift} of {projects} projects differ"),
    ));
    let missing = count(
        db,
        "SELECT count(*) FROM projects p WHERE NOT EXISTS (SELECT 1 FROM project_aggregations a WHERE a.project_id = p.id)",
    )
    .await?;
    report.checks.push((
        "every project has its aggregation row".into(),
        missing == 0,
        format!("{missing} missing"),
    ));
    let gaps = count(
        db,
        "SELECT count(*) FROM projects p LEFT JOIN ( \
           SELECT project_id, count(*) AS n, count(DISTINCT number) AS distinct_numbers, max(number) AS top \
           FROM tasks GROUP BY project_id) t ON t.project_id = p.id \
         WHERE coalesce(t.n, 0) <> p.task_counter OR coalesce(t.top, 0) <> p.task_counter \
            OR coalesce(t.distinct_numbers, 0) <> coalesce(t.n, 0)",
    )
    .await?;
    let tasks = count(db, "SELECT count(*) FROM tasks").await?;
    report.checks.push((
        "task numbers gap-free (1..=counter, no duplicate)".into(),
        gaps == 0,
        format!("{gaps} projects with gaps, {tasks} tasks"),
    ));
    // The bench prunes nothing, so every project's log holds 1..=head.
    let log_gaps = count(
        db,
        "SELECT count(*) FROM project_event_heads h LEFT JOIN ( \
           SELECT project_id, count(*) AS n, min(seq) AS low, max(seq) AS high \
           FROM project_events GROUP BY project_id) e ON e.project_id = h.project_id \
         WHERE coalesce(e.n, 0) <> h.seq OR coalesce(e.high, 0) <> h.seq OR (h.seq > 0 AND e.low <> 1)",
    )
    .await?;
    let events = count(db, "SELECT count(*) FROM project_events").await?;
    report.checks.push((
        "event sequences gap-free (1..=head)".into(),
        log_gaps == 0,
        format!("{log_gaps} projects with gaps, {events} events"),
    ));
    let server_errors = report.server_errors;
    report.checks.push((
        "no 5xx".into(),
        server_errors == 0,
        format!("{server_errors} answers were 5xx"),
    ));
    Ok(())
}
