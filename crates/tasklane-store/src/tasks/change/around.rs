//! The rows a change touches besides the task: a column renumbered when its ranks ran out of
//! room, the task's label links, and the project restored by a change in an archived project.

use sea_orm::{DatabaseTransaction, DbErr};
use tasklane_domain::ids::{ProjectId, StatusId, TaskId};
use tasklane_domain::model::{Label, Project, Task};
use tasklane_domain::rank::{self, Placement, Rank};
use uuid::Uuid;

use crate::convert::{self, PROJECT_COLUMNS, PROJECT_FROM};
use crate::db::{Dialect, all, exec, one};

/// Renumbers the live tasks of `status` (the moved task left out) as `Rank::from_sequence(1..)`
/// and places the moved task between its neighbours again (the rebalance rule of `rank.rs`).
pub(super) async fn rebalance(
    txn: &DatabaseTransaction,
    d: Dialect,
    status: StatusId,
    moved: TaskId,
    after: Option<TaskId>,
    before: Option<TaskId>,
) -> Result<Placement, DbErr> {
    // Budget: a move between tied neighbours, beyond its 3: the column read.
    let stmt = d.stmt(
        "SELECT id FROM tasks WHERE status_id = $1 AND archived_at IS NULL AND id <> $2 ORDER BY rank, id",
        vec![d.id(status), d.id(moved)],
    );
    let order: Vec<Uuid> = all(txn, stmt)
        .await?
        .iter()
        .map(|row| d.row(row).id("id"))
        .collect::<Result<_, _>>()?;
    for chunk in order.chunks(500).enumerate().map(|(c, ids)| (c * 500, ids)) {
        let (offset, ids) = chunk;
        let cases: Vec<String> = (0..ids.len())
            .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
            .collect();
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", 2 * i + 1)).collect();
        let mut values = Vec::with_capacity(ids.len() * 2);
        for (i, id) in ids.iter().enumerate() {
            values.push(d.id(*id));
            values.push(Rank::from_sequence((offset + i + 1) as u64).as_str().into());
        }
        let sql = format!(
            "UPDATE tasks SET rank = CASE id {} END WHERE id IN ({})",
            cases.join(" "),
            list.join(", ")
        );
        // Budget: a rebalancing move: the renumbered column.
        exec(txn, d.stmt(&sql, values)).await?;
    }
    // Budget: a rebalancing move: the column's append sequence.
    exec(
        txn,
        d.stmt(
            "UPDATE statuses SET append_seq = $2 WHERE id = $1",
            vec![d.id(status), (order.len() as i64).into()],
        ),
    )
    .await?;
    let index_of =
        |id: Option<TaskId>| id.and_then(|id| order.iter().position(|x| *x == id.as_uuid()));
    convert::valid(
        "placement",
        rank::place_after_renumbering(order.len(), index_of(after), index_of(before)),
    )
}

/// Makes `labels` the task's labels: drops the others, adds the missing ones (one statement on
/// PostgreSQL). The labels were read in the task's project under the task's lock; a label
/// deleted since makes the insert fail on its foreign key, which rolls the change back.
pub(super) async fn set_labels(
    txn: &DatabaseTransaction,
    d: Dialect,
    task: &Task,
    labels: &[Label],
) -> Result<(), DbErr> {
    let ids: Vec<String> = labels.iter().map(|l| l.id.to_string()).collect();
    let values = vec![
        d.id(task.id),
        d.id(task.project_id),
        serde_json::Value::from(ids).to_string().into(),
    ];
    let drop = format!(
        "DELETE FROM task_labels WHERE task_id = $1 AND label_id NOT IN {}",
        d.json_ids(3)
    );
    match d {
        Dialect::Postgres => {
            let sql = format!(
                "WITH gone AS ({drop}) INSERT INTO task_labels (project_id, task_id, label_id) \
                 SELECT $2, $1, value::uuid FROM jsonb_array_elements_text($3::jsonb) ON CONFLICT DO NOTHING"
            );
            // Budget: setting a task's labels, one more than the update.
            exec(txn, d.stmt(&sql, values)).await?;
        }
        Dialect::Sqlite => {
            // Budget: setting a task's labels on SQLite, two more than the update.
            exec(txn, d.stmt(&drop, values.clone())).await?;
            let add = "INSERT OR IGNORE INTO task_labels (project_id, task_id, label_id) \
                       SELECT $2, $1, value FROM json_each($3)";
            exec(txn, d.stmt(add, values)).await?;
        }
    }
    Ok(())
}

/// Clears the project's archive state and returns it (with the aggregation as it stands; the caller
/// puts the change's in).
pub(super) async fn restore_project(
    txn: &DatabaseTransaction,
    d: Dialect,
    project_id: ProjectId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Project, DbErr> {
    // Budget: a change that restores its project, one more (4).
    exec(
        txn,
        d.stmt(
            "UPDATE projects SET archived_at = NULL, row_version = row_version + 1, updated_at = $2 WHERE id = $1",
            vec![d.id(project_id), d.time(at)],
        ),
    )
    .await?;
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM {PROJECT_FROM} WHERE p.id = $1");
    let row = one(txn, d.stmt(&sql, vec![d.id(project_id)]))
        .await?
        .ok_or_else(|| convert::corrupt("project", "vanished"))?;
    let counts = convert::counts(&d.row(&row))?.unwrap_or_default();
    convert::project(&d.row(&row), || counts)
}
