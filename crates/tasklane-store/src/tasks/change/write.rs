//! The write of a decided change to one task: the task row, the column's append sequence when
//! the task goes to the end of a column, the aggregation and, on PostgreSQL, the task's own
//! events, in one statement (two plain ones on SQLite).

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use tasklane_domain::aggregation::AggregationChange;
use tasklane_domain::events::LoggedEvent;
use tasklane_domain::ids::UserId;
use tasklane_domain::model::Task;
use tasklane_domain::ports::{ChangeEvents, TaskRevision, TaskUpdatePlan};
use tasklane_domain::rank::{Placement, Rank};
use tasklane_domain::values::Role;

use crate::convert::{self, valid};
use crate::db::{Binds, Dialect, exec, one};
use crate::errors::Fail;
use crate::events::{Folded, StandIn};
use crate::tasks::{after_to_change, bind_deltas, require, sequence_rank_sql, update_aggregation};

/// The task after `plan`, given what the write returned.
pub(super) fn task_after(task: &Task, plan: &TaskUpdatePlan, rank: Rank, row_version: u64) -> Task {
    let patch = plan.patch.clone();
    Task {
        title: patch.title.unwrap_or_else(|| task.title.clone()),
        description: patch
            .description
            .unwrap_or_else(|| task.description.clone()),
        status: patch.status.unwrap_or_else(|| task.status.clone()),
        priority: patch.priority.unwrap_or(task.priority),
        task_type: patch.task_type.unwrap_or(task.task_type),
        story_points: patch.story_points.unwrap_or(task.story_points),
        due_date: patch.due_date.unwrap_or(task.due_date),
        assignee: patch.assignee.unwrap_or_else(|| task.assignee.clone()),
        parent_id: patch.parent_id.unwrap_or(task.parent_id),
        labels: patch.labels.unwrap_or_else(|| task.labels.clone()),
        archived_at: patch.archived_at.unwrap_or(task.archived_at),
        completed_at: patch.completed_at.unwrap_or(task.completed_at),
        rank,
        row_version,
        updated_at: plan.at,
        ..task.clone()
    }
}

/// What a change decided before its transaction (on a context read without locks) took for
/// granted. Its write matches nothing, and writes nothing, unless all of it still holds, as it
/// would under the locks: the task as read (its version, and what moves without the version:
/// its rank and comment count, which its answer and events carry), the categories of its old
/// and new status (the aggregation delta), whether the project is archived, the actor's role,
/// and the new assignee's membership.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unchanged {
    /// Whether its project was archived when the context was read.
    pub project_archived: bool,
    /// The actor.
    pub actor: UserId,
    /// The actor's role read.
    pub role: Option<Role>,
    /// The member the change assigns the task to, if any.
    pub assignee: Option<UserId>,
}

/// What [`write_change`] wrote.
pub(super) struct ChangeWritten {
    pub rank: Rank,
    pub row_version: u64,
    pub aggregation: Option<AggregationChange>,
    /// The task's own events, when the statement logged them (PostgreSQL).
    pub logged: Option<Vec<LoggedEvent>>,
}

/// `title = $n, …, updated_at = $m` for every column a change may write, bound into `binds`
/// from the task as it will be; returns the assignments and the placeholder of the time.
fn task_fields(binds: &mut Binds, d: Dialect, after: &Task, at: DateTime<Utc>) -> (String, String) {
    let at = binds.bind(d.time(at));
    let set = format!(
        "title = {}, description = {}, status_id = {}, priority = {}, task_type = {}, story_points = {}, \
         due_date = {}, assignee_id = {}, parent_id = {}, completed_at = {}, archived_at = {}, \
         row_version = row_version + 1, updated_at = {at}",
        binds.bind(after.title.as_str()),
        binds.bind(after.description.as_ref().map(|x| x.as_str().to_owned())),
        binds.bind(d.id(after.status.id)),
        binds.bind(after.priority.as_str()),
        binds.bind(after.task_type.as_str()),
        binds.bind(after.story_points.map(|p| i16::from(p.get()))),
        binds.bind(d.opt_date(after.due_date)),
        binds.bind(d.opt_id(after.assignee.as_ref().map(|u| u.id))),
        binds.bind(d.opt_id(after.parent_id)),
        binds.bind(d.opt_time(after.completed_at)),
        binds.bind(d.opt_time(after.archived_at)),
    );
    (set, at)
}

/// Writes the decided change: the task row (all columns, from the locked row and the patch),
/// the append sequence when the task goes to the end of a column, the aggregation delta and,
/// on PostgreSQL, the task's own events (`events.written`, see `events::Folded`).
pub(super) async fn write_change<E>(
    txn: &DatabaseTransaction,
    d: Dialect,
    task: &Task,
    plan: &TaskUpdatePlan,
    exact_rank: Option<Rank>,
    events: &ChangeEvents,
    unchanged: Option<Unchanged>,
) -> Result<Option<ChangeWritten>, Fail<E>> {
    let after = task_after(task, plan, task.rank.clone(), task.row_version + 1);
    let append = matches!(plan.patch.placement, Some(Placement::Append));
    let has_delta = !plan.delta.is_zero();
    match d {
        Dialect::Postgres => {
            // One statement: the sequence, the task, the aggregation and the task's events. The
            // rank is the database's to decide only when the task goes to the end of a column;
            // the version is the locked row's plus one.
            let stand_in = append.then(|| StandIn::draw(1).remove(0));
            let provisional_rank = match (&stand_in, &exact_rank) {
                (Some(stand_in), _) => stand_in.rank().clone(),
                (None, Some(rank)) => rank.clone(),
                (None, None) => task.rank.clone(),
            };
            let revision = TaskRevision {
                task: task_after(task, plan, provisional_rank, task.row_version + 1),
                previous: task.clone(),
            };
            let folded = Folded::new((events.written)(&revision), |_| stand_in.clone());
            let mut binds = Binds::default();
            let id = binds.bind(d.id(task.id));
            let status = binds.bind(d.id(after.status.id));
            let appends = binds.bind(append);
            let exact = binds.bind(exact_rank.as_ref().map(|r| r.as_str().to_owned()));
            let deltas = bind_deltas(&mut binds, &plan.delta);
            let project = binds.position(d.id(task.project_id));
            let counted = binds.bind(has_delta);
            let (set, at) = task_fields(&mut binds, d, &after, plan.at);
            let checked = binds.bind(unchanged.is_some());
            let seen = binds.bind(i64::try_from(task.row_version).unwrap_or(i64::MAX));
            let seen_rank = binds.bind(task.rank.as_str());
            let seen_comments = binds.bind(i64::try_from(task.comment_count).unwrap_or(i64::MAX));
            let actor = binds.bind(d.opt_id(unchanged.map(|u| u.actor)));
            let role = binds.bind(
                unchanged
                    .and_then(|u| u.role)
                    .map(|r| r.as_str().to_owned()),
            );
            let assignee = binds.bind(d.opt_id(unchanged.and_then(|u| u.assignee)));
            let old_status = binds.bind(d.id(task.status.id));
            let old_category = binds.bind(task.status.category.as_str());
            let new_category = binds.bind(after.status.category.as_str());
            let archived = binds.bind(unchanged.is_some_and(|u| u.project_archived));
            let logged_events = binds.position(folded.parameter());
            let sql = format!(
                "WITH seq AS (UPDATE statuses SET append_seq = append_seq + 1 WHERE id = {status} AND {appends} RETURNING append_seq), \
                 upd AS (UPDATE tasks SET {set}, rank = COALESCE((SELECT {rank} FROM seq), {exact}, rank) WHERE id = {id} \
                           AND (NOT {checked} OR (row_version = {seen} AND rank = {seen_rank} AND comment_count = {seen_comments} \
                             AND (SELECT role FROM project_members WHERE project_id = ${project} AND user_id = {actor}) IS NOT DISTINCT FROM {role} \
                             AND ({assignee} IS NULL OR EXISTS (SELECT 1 FROM project_members WHERE project_id = ${project} AND user_id = {assignee})) \
                             AND (SELECT category FROM statuses WHERE id = {old_status}) = {old_category} \
                             AND (SELECT category FROM statuses WHERE id = {status}) = {new_category} \
                             AND (SELECT archived_at IS NOT NULL FROM projects WHERE id = ${project}) = {archived})) \
                         RETURNING id, number, rank, row_version), \
                 agg AS (UPDATE project_aggregations SET {deltas}, updated_at = {at} WHERE project_id = ${project} AND {counted} \
                           AND EXISTS (SELECT 1 FROM upd) \
                         RETURNING total, todo, in_progress, in_review, issue, done), \
                 {events} \
                 SELECT upd.rank, upd.row_version, agg.*, {logged} FROM upd LEFT JOIN agg ON true",
                rank = sequence_rank_sql("append_seq"),
                events = Folded::sql(
                    logged_events,
                    project,
                    "upd",
                    &format!(
                        "EXISTS (SELECT 1 FROM upd) AND (NOT {counted} OR EXISTS (SELECT 1 FROM agg))"
                    ),
                ),
                logged = Folded::RESULT_COLUMNS,
            );
            // Budget: a task change, statement 3 of 3: the write with its events.
            let Some(row) = one(txn, d.stmt(&sql, binds.into_values())).await? else {
                // Decided on a read that no longer holds; without that check the row is locked.
                return match unchanged {
                    Some(_) => Ok(None),
                    None => Err(Fail::Corrupt(anyhow::anyhow!("locked task vanished"))),
                };
            };
            let r = d.row(&row);
            let aggregation = if has_delta {
                Some(require(convert::counts(&r)?)?)
                    .map(|after| after_to_change(Some(after), &plan.delta))
                    .transpose()?
            } else {
                None
            };
            let rank = valid("rank", Rank::parse(&r.text("rank")?))?;
            let row_version = convert::count(r.int("row_version")?)?;
            let written = task_after(task, plan, rank.clone(), row_version);
            let logged = folded.settle(&r, |_| Some(written.clone()))?;
            Ok(Some(ChangeWritten {
                rank,
                row_version,
                aggregation,
                logged: Some(logged),
            }))
        }
        Dialect::Sqlite => {
            let rank = match (append, exact_rank) {
                (true, _) => {
                    // Budget: a task change on SQLite (5): the column's append sequence.
                    let stmt = d.stmt(
                        "UPDATE statuses SET append_seq = append_seq + 1 WHERE id = $1 RETURNING append_seq",
                        vec![d.id(after.status.id)],
                    );
                    let row = one(txn, stmt)
                        .await?
                        .ok_or_else(|| Fail::Corrupt(anyhow::anyhow!("status vanished")))?;
                    Rank::from_sequence(convert::count(d.row(&row).int("append_seq")?)?)
                }
                (false, Some(rank)) => rank,
                (false, None) => task.rank.clone(),
            };
            let mut binds = Binds::default();
            let id = binds.bind(d.id(task.id));
            let new_rank = binds.bind(rank.as_str());
            let (set, _) = task_fields(&mut binds, d, &after, plan.at);
            let sql = format!("UPDATE tasks SET {set}, rank = {new_rank} WHERE id = {id}");
            // Budget: a task change on SQLite (5): the task row.
            exec(txn, d.stmt(&sql, binds.into_values())).await?;
            let aggregation = if has_delta {
                Some(require(
                    update_aggregation(txn, d, task.project_id, &plan.delta, plan.at).await?,
                )?)
            } else {
                None
            };
            Ok(Some(ChangeWritten {
                rank,
                row_version: task.row_version + 1,
                aggregation,
                logged: None,
            }))
        }
    }
}
