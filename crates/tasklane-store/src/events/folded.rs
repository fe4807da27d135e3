//! The events a PostgreSQL task write logs inside its own statement: encoded before the write
//! with stand-ins for the number and rank only the database decides, then settled with the
//! decided values, so the log and the live frame hold the same bytes.

use sea_orm::DbErr;
use tasklane_domain::events::{EncodedEvent, LoggedEvent};
use tasklane_domain::ids::TaskId;
use tasklane_domain::model::Task;
use tasklane_domain::rank::Rank;
use uuid::Uuid;

use super::event_row;
use crate::convert::{self};
use crate::db::Dialect;

/// Stand-ins for what the database decides about a task a write is about to write: its number
/// (hence its key) and its rank. The events encoded before the write carry their text; the
/// write's statement replaces it with the decided values, and [`Folded::settle`] does the same
/// to the events handed back, so the log and the live frame hold the same bytes.
///
/// Why their text cannot be mistaken for anything else: they are 19-digit numbers, drawn at
/// random for each write (a client never sees one, so cannot put one in a title on purpose), and
/// no other value of an event holds a run of 19 digits (UUIDs, timestamps, counts and real
/// numbers and ranks are shorter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StandIn {
    number: u64,
    rank: Rank,
}

impl StandIn {
    /// Stand-ins for `n` tasks: numbers from one random 19-digit range, ranks from another.
    pub(crate) fn draw(n: usize) -> Vec<StandIn> {
        const LOW: u64 = 1_000_000_000_000_000_000;
        let random = Uuid::new_v4().as_u128();
        // Numbers in [1e18, 3e18 + n), rank digits in [5e18, 7e18 + n): both 19 digits long and
        // never equal (batches hold at most a few thousand tasks).
        let numbers = LOW + (random as u64) % (2 * LOW);
        let ranks = 5 * LOW + ((random >> 64) as u64) % (2 * LOW);
        (0..n as u64)
            .map(|i| StandIn {
                number: numbers + i,
                rank: Rank::from_sequence(ranks + i),
            })
            .collect()
    }

    /// The number to encode in the task's place.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// The rank to encode in the task's place.
    pub(crate) fn rank(&self) -> &Rank {
        &self.rank
    }

    /// `data` with the decided values in place of the stand-ins' text: what the statement's
    /// `replace` calls do, in the same order (the rank first: its text holds digits).
    fn fill(&self, data: &str, number: u64, rank: &Rank) -> String {
        data.replace(self.rank.as_str(), rank.as_str())
            .replace(&self.number.to_string(), &number.to_string())
    }
}

/// The events of the tasks a PostgreSQL write is about to write, logged by its own statement
/// (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Folded {
    events: Vec<EncodedEvent>,
    /// The stand-in each event's task was encoded with, if any.
    stand_ins: Vec<Option<StandIn>>,
}

impl Folded {
    /// `events`, encoded with the stand-in `stand_in` gives for their task (none when every
    /// value of the task is already known).
    pub(crate) fn new(
        events: Vec<EncodedEvent>,
        stand_in: impl Fn(TaskId) -> Option<StandIn>,
    ) -> Self {
        let stand_ins = events
            .iter()
            .map(|e| e.event.task_id().and_then(&stand_in))
            .collect();
        Self { events, stand_ins }
    }

    /// The statement's JSON parameter for [`Folded::sql`]: one object per event, in order.
    pub(crate) fn parameter(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .events
            .iter()
            .zip(&self.stand_ins)
            .enumerate()
            .map(|(i, (e, stand_in))| {
                let mut row = event_row(Dialect::Postgres, i + 1, e);
                let number = stand_in.as_ref().map(|s| s.number.to_string());
                let rank = stand_in.as_ref().map(|s| s.rank.as_str().to_owned());
                row.insert("number_hole".into(), number.into());
                row.insert("rank_hole".into(), rank.into());
                row.into()
            })
            .collect();
        serde_json::Value::Array(rows).to_string()
    }

    /// The CTEs (`ev`, `head`, `logged`, to follow a comma) that log the events of parameter
    /// `$events` in project `$project`. `rows` is the statement's CTE returning `id, number, rank`
    /// of the tasks written (an event whose task it does not return is not logged, and
    /// [`Folded::settle`] fails); `after` a condition on the statement's other writes (their
    /// CTEs), so that the head row is the last lock the statement takes. The statement then selects
    /// [`Folded::RESULT_COLUMNS`] for [`Folded::settle`].
    pub(crate) fn sql(events: usize, project: usize, rows: &str, after: &str) -> String {
        format!(
            "ev AS (SELECT * FROM jsonb_to_recordset(${events}::jsonb) AS x(ord bigint, type text, actor_id uuid, \
                      at timestamptz, task_id uuid, status_id uuid, member_id uuid, data text, number_hole text, rank_hole text)), \
             head AS (INSERT INTO project_event_heads AS h (project_id, seq) \
                      SELECT ${project}, count(*) FROM ev HAVING count(*) > 0 AND {after} \
                      ON CONFLICT (project_id) DO UPDATE SET seq = h.seq + excluded.seq RETURNING h.seq), \
             logged AS (INSERT INTO project_events (project_id, seq, type, actor_id, at, task_id, status_id, member_id, data) \
                      SELECT ${project}, head.seq - (SELECT count(*) FROM ev) + ev.ord, ev.type, ev.actor_id, ev.at, \
                        ev.task_id, ev.status_id, ev.member_id, \
                        CASE WHEN ev.rank_hole IS NULL THEN ev.data \
                             ELSE replace(replace(ev.data, ev.rank_hole, w.rank), ev.number_hole, w.number::text) END \
                      FROM ev CROSS JOIN head LEFT JOIN {rows} w ON w.id = ev.task_id \
                      WHERE ev.rank_hole IS NULL OR w.id IS NOT NULL \
                      RETURNING seq)"
        )
    }

    /// The column of the statement's result that [`Folded::settle`] reads: the head after the
    /// events, and how many were logged.
    pub(crate) const RESULT_COLUMNS: &'static str =
        "(SELECT seq FROM head) AS event_head, (SELECT count(*) FROM logged) AS events_logged";

    /// The events as logged, from the statement's result `row` and the tasks as written (by
    /// id): numbered, with the decided values in their data and their task.
    ///
    /// # Errors
    /// A result that does not account for every event.
    pub(crate) fn settle(
        self,
        row: &crate::db::Row<'_>,
        written: impl Fn(TaskId) -> Option<Task>,
    ) -> Result<Vec<LoggedEvent>, DbErr> {
        let n = self.events.len() as u64;
        if n == 0 {
            return Ok(Vec::new());
        }
        let head = row.opt_int("event_head")?.map(convert::count).transpose()?;
        let logged = convert::count(row.int("events_logged")?)?;
        let Some(head) = head.filter(|_| logged == n) else {
            return Err(convert::corrupt(
                "event log",
                format!("{n} events given, {logged} logged"),
            ));
        };
        let first = head + 1 - n;
        let mut settled = Vec::with_capacity(self.events.len());
        for ((EncodedEvent { mut event, data }, stand_in), seq) in
            self.events.into_iter().zip(self.stand_ins).zip(first..)
        {
            let task = event.task_id().and_then(&written);
            let data = match (&stand_in, &task) {
                (Some(stand_in), Some(task)) => stand_in.fill(&data, task.key.number(), &task.rank),
                (Some(_), None) => {
                    return Err(convert::corrupt(
                        "event log",
                        "an event's task was not written",
                    ));
                }
                (None, _) => data,
            };
            if let (Some(slot), Some(task)) = (event.task_mut(), task) {
                *slot = task;
            }
            settled.push(LoggedEvent { seq, event, data });
        }
        Ok(settled)
    }
}
