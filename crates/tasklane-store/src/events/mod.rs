//! The project event log: [`append`] writes a transaction's events in one statement, numbering
//! them in their project's sequence; [`Folded`] logs a task write's events inside the statement
//! that writes the tasks (PostgreSQL); [`Store`] reads them back and prunes them
//! (`EventLogRepository`).
//!
//! Numbering: on PostgreSQL a write bumps the project's row in `project_event_heads`, which
//! holds that row's lock until `COMMIT`, so numbers follow commit order (every other write of the
//! project that logs an event waits on it). Every write takes a project's head after all its
//! other locks of that project (an append is its last statement; a folded log depends on the
//! statement's other writes). Writes that span projects (a creation group, the auto-archive
//! job) take them in project order, so the heads cannot be part of a deadlock. On SQLite the one writer serialises
//! everything; the statement numbers from the head, which a trigger advances (see the
//! migration).
//!
//! Folding (PostgreSQL creations and changes): the events of the tasks written are encoded
//! before the write, with a [`StandIn`] for each value the database decides, and travel as one
//! more JSON parameter of the write's statement, which numbers them, replaces the stand-ins'
//! text with the decided values and inserts them: no round trip of their own. The events that
//! follow from the result (a derived status's change, a restoration) are appended after it,
//! with one more statement only when there are any.

mod folded;

pub(crate) use folded::{Folded, StandIn};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use tasklane_domain::errors::RepoError;
use tasklane_domain::events::{EncodedEvent, LoggedEvent, StoredEvent};
use tasklane_domain::ids::{ProjectId, TaskId, UserId};
use tasklane_domain::ports::{
    EventLogRepository, EventQuery, EventScope, EventsOf, EventsRead, Logged,
};
use uuid::Uuid;

use crate::Store;
use crate::convert::{self, parsed};
use crate::db::{Dialect, all, exec, one};
use crate::errors::repo_error;

/// The PostgreSQL append: the events arrive as one JSON array, so the text never changes (one
/// prepared statement per connection whatever the number of events).
const APPEND_PG: &str = "\
WITH e AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord bigint, project_id uuid, type text, \
             actor_id uuid, at timestamptz, task_id uuid, status_id uuid, member_id uuid, data text)), \
     n AS (SELECT project_id, count(*) AS n FROM e GROUP BY project_id), \
     bumped AS (INSERT INTO project_event_heads AS h (project_id, seq) SELECT project_id, n FROM n ORDER BY project_id \
                ON CONFLICT (project_id) DO UPDATE SET seq = h.seq + excluded.seq RETURNING h.project_id, h.seq), \
     head AS (SELECT bumped.project_id AS id, bumped.seq - n.n AS base FROM bumped JOIN n ON n.project_id = bumped.project_id) \
INSERT INTO project_events (project_id, seq, type, actor_id, at, task_id, status_id, member_id, data) \
SELECT e.project_id, head.base + row_number() OVER (PARTITION BY e.project_id ORDER BY e.ord), e.type, \
       e.actor_id, e.at, e.task_id, e.status_id, e.member_id, e.data \
FROM e JOIN head ON head.id = e.project_id \
RETURNING project_id, seq";

/// The SQLite append. The trigger on `project_events` makes SQLite evaluate the whole `SELECT`
/// before the first row is inserted, so every row numbers from the head as it was before.
const APPEND_SQLITE: &str = "\
INSERT INTO project_events (project_id, seq, type, actor_id, at, task_id, status_id, member_id, data) \
SELECT x.project_id, \
       COALESCE((SELECT seq FROM project_event_heads WHERE project_id = x.project_id), 0) \
         + row_number() OVER (PARTITION BY x.project_id ORDER BY x.ord), \
       x.type, x.actor_id, x.at, x.task_id, x.status_id, x.member_id, x.data \
FROM (SELECT key AS ord, json_extract(value, '$.project_id') AS project_id, json_extract(value, '$.type') AS type, \
        json_extract(value, '$.actor_id') AS actor_id, json_extract(value, '$.at') AS at, \
        json_extract(value, '$.task_id') AS task_id, json_extract(value, '$.status_id') AS status_id, \
        json_extract(value, '$.member_id') AS member_id, json_extract(value, '$.data') AS data \
      FROM json_each($1)) x \
WHERE EXISTS (SELECT 1 FROM projects WHERE id = x.project_id) \
RETURNING project_id, seq";

/// Appends `events` (in order) to their projects' logs in `txn` and returns them numbered. No
/// events, no statement.
///
/// # Errors
/// A database failure, or a project that no longer exists (its events cannot be logged, so the
/// transaction must not commit).
pub(crate) async fn append(
    txn: &impl ConnectionTrait,
    d: Dialect,
    events: Vec<EncodedEvent>,
) -> Result<Vec<LoggedEvent>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(ord, e)| event_row(d, ord, e).into())
        .collect();
    let sql = match d {
        Dialect::Postgres => APPEND_PG,
        Dialect::Sqlite => APPEND_SQLITE,
    };
    let values = vec![serde_json::Value::Array(rows).to_string().into()];
    let mut numbers: Vec<(Uuid, u64)> = Vec::with_capacity(events.len());
    // Budget: the event append, one statement per write (the last of each budget).
    for row in all(txn, d.stmt(sql, values)).await? {
        let r = d.row(&row);
        numbers.push((r.id("project_id")?, convert::count(r.int("seq")?)?));
    }
    number(events, numbers)
}

/// The events of a batch written by one statement, handed back to each of its `results`: its
/// share of `logged` (the statement's own events, `sizes` each, in order), then what followed
/// from it, `outcomes`, appended after the whole batch's (one more statement, only when there
/// are any), as every batch logs them.
pub(crate) async fn with_outcomes<R>(
    txn: &impl ConnectionTrait,
    d: Dialect,
    results: Vec<R>,
    logged: Vec<LoggedEvent>,
    sizes: Vec<usize>,
    outcomes: Vec<Vec<EncodedEvent>>,
) -> Result<Vec<Logged<R>>, DbErr> {
    let more: Vec<usize> = outcomes.iter().map(Vec::len).collect();
    let mut followed = append(txn, d, outcomes.concat()).await?.into_iter();
    let mut logged = logged.into_iter();
    Ok(results
        .into_iter()
        .zip(sizes.into_iter().zip(more))
        .map(|(value, (size, more))| {
            let mut events: Vec<LoggedEvent> = logged.by_ref().take(size).collect();
            events.extend(followed.by_ref().take(more));
            Logged { value, events }
        })
        .collect())
}

/// One event as the append statements read it from their JSON parameter.
pub(super) fn event_row(
    d: Dialect,
    ord: usize,
    e: &EncodedEvent,
) -> serde_json::Map<String, serde_json::Value> {
    let id = |id: Uuid| id.hyphenated().to_string();
    let row = serde_json::json!({
        "ord": ord,
        "project_id": id(e.event.project_id.as_uuid()),
        "type": e.event.payload.name(),
        "actor_id": id(e.event.actor_id.as_uuid()),
        "at": d.time_text(e.event.at),
        "task_id": e.event.task_id().map(|t| id(t.as_uuid())),
        "status_id": e.event.status_id().map(|s| id(s.as_uuid())),
        "member_id": e.event.member_id().map(|m| id(m.as_uuid())),
        "data": e.data,
    });
    match row {
        serde_json::Value::Object(row) => row,
        _ => serde_json::Map::new(),
    }
}

/// Logs the events `record` makes of `value` in `txn` and returns both: a write's last
/// statement before `COMMIT`, so the project row's lock (PostgreSQL) is held as briefly as
/// possible.
pub(crate) async fn log<R>(
    txn: &impl ConnectionTrait,
    d: Dialect,
    value: R,
    record: &impl EventsOf<R>,
) -> Result<Logged<R>, DbErr> {
    let events = append(txn, d, record.events_of(&value)).await?;
    Ok(Logged { value, events })
}

/// Gives each event its number: per project, the returned numbers ascending, in event order
/// (the statements number each project's events in the order they were given).
fn number(
    events: Vec<EncodedEvent>,
    mut numbers: Vec<(Uuid, u64)>,
) -> Result<Vec<LoggedEvent>, DbErr> {
    if numbers.len() != events.len() {
        return Err(convert::corrupt(
            "event log",
            format!(
                "{} events given, {} logged (a project vanished)",
                events.len(),
                numbers.len()
            ),
        ));
    }
    numbers.sort_unstable();
    let mut logged = Vec::with_capacity(events.len());
    let mut taken = vec![false; numbers.len()];
    for EncodedEvent { event, data } in events {
        let project = event.project_id.as_uuid();
        let start = numbers.partition_point(|(p, _)| *p < project);
        let slot = (start..numbers.len())
            .take_while(|i| numbers[*i].0 == project)
            .find(|i| !taken[*i])
            .ok_or_else(|| convert::corrupt("event log", "an event was not numbered"))?;
        taken[slot] = true;
        logged.push(LoggedEvent {
            seq: numbers[slot].1,
            event,
            data,
        });
    }
    Ok(logged)
}

/// Numbers the events of a project about to be deleted after its last logged one, without
/// keeping them: the log goes with the project.
pub(crate) fn number_after(head: u64, events: Vec<EncodedEvent>) -> Vec<LoggedEvent> {
    events
        .into_iter()
        .zip(head + 1..)
        .map(|(EncodedEvent { event, data }, seq)| LoggedEvent { seq, event, data })
        .collect()
}

/// The project's head, read (and on PostgreSQL locked, so a write still appending to it is
/// waited for) before the project is deleted.
pub(crate) async fn head_for_delete(
    txn: &impl ConnectionTrait,
    d: Dialect,
    project_id: ProjectId,
) -> Result<u64, DbErr> {
    let lock = if d == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT seq FROM project_event_heads WHERE project_id = $1{lock}");
    let row = one(txn, d.stmt(&sql, vec![d.id(project_id)])).await?;
    match row {
        Some(row) => convert::count(d.row(&row).int("seq")?),
        None => Ok(0),
    }
}

#[async_trait]
impl EventLogRepository for Store {
    async fn read_events(&self, query: EventQuery) -> Result<EventsRead, RepoError> {
        let d = self.dialect;
        let (project, task_filter, mut values) = match query.scope {
            EventScope::Project(project_id) => ("$1".to_owned(), "", vec![d.id(project_id)]),
            EventScope::Task(task_id) => (
                "(SELECT project_id FROM tasks WHERE id = $1)".to_owned(),
                " AND task_id = $1",
                vec![d.id(task_id)],
            ),
        };
        values.push(d.id(query.viewer));
        values.push(convert::int(query.after).into());
        values.push(i64::from(query.limit).into());
        let sql = format!(
            "SELECT (SELECT role FROM project_members WHERE project_id = r.id AND user_id = $2) AS role, \
               COALESCE((SELECT seq FROM project_event_heads WHERE project_id = r.id), 0) AS head, \
               (SELECT MIN(seq) FROM project_events WHERE project_id = r.id) AS oldest, \
               e.seq, e.type, e.task_id, e.member_id, e.actor_id, e.at, e.data \
             FROM (SELECT id FROM projects WHERE id = {project}) r \
             LEFT JOIN (SELECT * FROM project_events WHERE project_id = {project}{task_filter} AND seq > $3 \
                        ORDER BY seq LIMIT $4) e ON true \
             ORDER BY e.seq"
        );
        let rows = all(&self.reader, d.stmt(&sql, values))
            .await
            .map_err(repo_error)?;
        let read = (|| -> Result<EventsRead, DbErr> {
            let Some(first) = rows.first() else {
                return Ok(EventsRead {
                    viewer_role: None,
                    head: 0,
                    oldest: None,
                    items: Vec::new(),
                });
            };
            let head = d.row(first);
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                let r = d.row(row);
                let Some(seq) = r.opt_int("seq")? else {
                    continue;
                };
                items.push(StoredEvent {
                    seq: convert::count(seq)?,
                    kind: r.text("type")?,
                    task_id: r.opt_id("task_id")?.map(TaskId::from_uuid),
                    member_id: r.opt_id("member_id")?.map(UserId::from_uuid),
                    actor_id: UserId::from_uuid(r.id("actor_id")?),
                    at: r.time("at")?,
                    data: r.text("data")?,
                });
            }
            Ok(EventsRead {
                viewer_role: head
                    .opt_text("role")?
                    .map(|role| parsed("role", &role))
                    .transpose()?,
                head: convert::count(head.int("head")?)?,
                oldest: head.opt_int("oldest")?.map(convert::count).transpose()?,
                items,
            })
        })()
        .map_err(repo_error)?;
        Ok(read)
    }

    async fn heads(&self, projects: Vec<ProjectId>) -> Result<Vec<(ProjectId, u64)>, RepoError> {
        let d = self.dialect;
        let mut heads = Vec::with_capacity(projects.len());
        // A bounded id list per statement, one statement text per dialect.
        for chunk in projects.chunks(1000) {
            let ids = serde_json::Value::from(
                chunk
                    .iter()
                    .map(|p| p.as_uuid().hyphenated().to_string())
                    .collect::<Vec<_>>(),
            )
            .to_string();
            let sql = format!(
                "SELECT project_id, seq FROM project_event_heads WHERE project_id IN {}",
                d.json_ids(1)
            );
            let rows = all(&self.reader, d.stmt(&sql, vec![ids.into()]))
                .await
                .map_err(repo_error)?;
            for row in rows {
                let r = d.row(&row);
                let project = r.id("project_id").map_err(repo_error)?;
                let seq = convert::count(r.int("seq").map_err(repo_error)?).map_err(repo_error)?;
                heads.push((ProjectId::from_uuid(project), seq));
            }
        }
        Ok(heads)
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        let d = self.dialect;
        // Each project's newest event stays: its number is where the sequence continues.
        let sql = "DELETE FROM project_events WHERE at < $1 \
                   AND seq < (SELECT h.seq FROM project_event_heads h WHERE h.project_id = project_events.project_id)";
        exec(&self.writer, d.stmt(sql, vec![d.time(before)]))
            .await
            .map_err(repo_error)
    }
}

#[cfg(test)]
mod tests {
    use tasklane_domain::events::{DomainEvent, EventPayload};

    use super::*;

    fn event(project: ProjectId) -> EncodedEvent {
        EncodedEvent {
            event: DomainEvent {
                project_id: project,
                actor_id: UserId::generate(),
                at: Utc::now(),
                payload: EventPayload::ProjectDeleted,
            },
            data: String::new(),
        }
    }

    #[test]
    fn each_project_numbers_its_own_events_in_the_order_given() {
        let (a, b) = (ProjectId::generate(), ProjectId::generate());
        let events = vec![event(a), event(b), event(a), event(a), event(b)];
        let numbers = vec![
            (b.as_uuid(), 8),
            (a.as_uuid(), 3),
            (b.as_uuid(), 7),
            (a.as_uuid(), 5),
            (a.as_uuid(), 4),
        ];
        let logged = number(events, numbers).unwrap();
        let seqs: Vec<(ProjectId, u64)> =
            logged.iter().map(|l| (l.event.project_id, l.seq)).collect();
        assert_eq!(seqs, vec![(a, 3), (b, 7), (a, 4), (a, 5), (b, 8)]);
    }

    #[test]
    fn a_missing_number_is_an_error_not_a_guess() {
        let a = ProjectId::generate();
        assert!(number(vec![event(a), event(a)], vec![(a.as_uuid(), 1)]).is_err());
    }
}
