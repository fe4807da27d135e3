//! The decisions of changes to existing tasks, as pure functions of what the store read inside
//! its transaction (the task as it is now, row locked) and the validated input: the plan to
//! apply, or the reason to refuse. `change.rs` runs them through the store.

use chrono::{DateTime, Utc};

use super::{
    ArchiveTaskError, ChangeRefusal, DeleteTaskError, MoveInput, MoveTaskError, TaskUpdateInput,
    UpdateTaskError,
};
use crate::access::{AccessDenied, Action, authorize};
use crate::aggregation::AggregationDelta;
use crate::events::TaskField;
use crate::ids::{TaskId, UserId};
use crate::model::{StatusRef, Task};
use crate::ports::{TaskContext, TaskDeletePlan, TaskPatch, TaskUpdatePlan};
use crate::rank::{self, Placement};
use crate::validation::ValidationErrors;
use crate::values::{StatusCategory, StoryPoints, TaskDescription, TaskTitle, check_due_date};

/// The task, if the caller may change it: exists and is visible, role allows task writes,
/// `If-Match` (when given) equals its version, and its project is not archived (unless the
/// change restores the project).
pub(super) fn check_change(
    context: &TaskContext,
    if_match: Option<u64>,
    project_may_be_archived: bool,
) -> Result<Task, ChangeRefusal> {
    let task = context
        .task
        .clone()
        .ok_or(ChangeRefusal::Access(AccessDenied::NotFound))?;
    authorize(context.actor_role, Action::WriteTasks).map_err(ChangeRefusal::Access)?;
    if let Some(expected) = if_match
        && expected != task.row_version
    {
        return Err(ChangeRefusal::VersionMismatch {
            current: task.row_version,
        });
    }
    let archived = context
        .project
        .as_ref()
        .is_some_and(|p| p.archived_at.is_some());
    if archived && !project_may_be_archived {
        return Err(ChangeRefusal::ProjectArchived);
    }
    Ok(task)
}

/// `completed_at` when a task goes from `from` to `to`: set on entering done, cleared on leaving.
pub(super) fn completion(
    from: StatusCategory,
    to: StatusCategory,
    at: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    match (from == StatusCategory::Done, to == StatusCategory::Done) {
        (false, true) => Some(Some(at)),
        (true, false) => Some(None),
        _ => None,
    }
}

/// Puts `task` into `status`: the status, the aggregation delta and the completion time.
pub(super) fn change_status(
    patch: &mut TaskPatch,
    task: &Task,
    status: &StatusRef,
    at: DateTime<Utc>,
) -> AggregationDelta {
    if status.id == task.status.id {
        return AggregationDelta::ZERO;
    }
    patch.status = Some(status.clone());
    patch.completed_at = completion(task.status.category, status.category, at);
    AggregationDelta::status_change(task.status.category, status.category)
}

pub(super) fn plan_update(
    context: TaskContext,
    input: &ValidUpdate,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, UpdateTaskError> {
    let task = check_change(&context, if_match, false)?;
    if task.is_archived() {
        return Err(UpdateTaskError::TaskArchived);
    }
    let mut errors = ValidationErrors::new();
    let mut patch = TaskPatch {
        title: input.title.clone(),
        description: input.description.clone(),
        priority: input.priority,
        task_type: input.task_type,
        story_points: input.story_points,
        due_date: input.due_date,
        ..TaskPatch::default()
    };
    let mut delta = AggregationDelta::ZERO;
    if let Some(status_id) = input.status_id {
        match context.status.as_ref().filter(|s| s.id == status_id) {
            Some(status) => {
                delta = change_status(&mut patch, &task, status, at);
                if patch.status.is_some() {
                    patch.placement = Some(Placement::Append);
                }
            }
            None => errors.add("status_id", "is not a status of this project"),
        }
    }
    match input.assignee_id {
        None => {}
        Some(None) => patch.assignee = Some(None),
        Some(Some(id)) => match context.assignee.as_ref().filter(|m| m.user.id == id) {
            Some(member) if member.role.can_be_assignee() => {
                patch.assignee = Some(Some(member.user.clone()));
            }
            Some(_) => errors.add("assignee_id", "viewers cannot be assigned tasks"),
            None => errors.add("assignee_id", "is not a member of this project"),
        },
    }
    match input.parent_id {
        None => {}
        Some(None) => patch.parent_id = Some(None),
        Some(Some(id)) if id == task.id => {
            errors.add("parent_id", "a task cannot be its own parent")
        }
        Some(Some(id)) => match context.parent.as_ref().filter(|p| p.id == id) {
            Some(parent) if parent.ancestor_ids.contains(&task.id) => {
                errors.add("parent_id", "would make the task its own ancestor");
            }
            Some(_) => patch.parent_id = Some(Some(id)),
            None => errors.add("parent_id", "is not a task of this project"),
        },
    }
    if let Some(ids) = &input.label_ids {
        let mut labels: Vec<_> = context
            .labels
            .iter()
            .filter(|l| ids.contains(&l.id))
            .cloned()
            .collect();
        if labels.len() == ids.len() {
            crate::model::Label::sort(&mut labels);
            patch.labels = Some(labels);
        } else {
            errors.add(
                "label_ids",
                "holds an id that is not a label of this project",
            );
        }
    }
    errors.into_result()?;
    Ok(TaskUpdatePlan {
        patch,
        delta,
        restore_project: false,
        at,
    })
}

pub(crate) fn plan_move(
    context: TaskContext,
    input: MoveInput,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, MoveTaskError> {
    let task = check_change(&context, if_match, false)?;
    if task.is_archived() {
        return Err(MoveTaskError::TaskArchived);
    }
    let invalid =
        |field: &str, message: &str| MoveTaskError::from(ValidationErrors::single(field, message));
    let neighbour =
        |id: Option<TaskId>, found: &Option<crate::ports::Neighbour>, field: &str| match id {
            None => Ok(None),
            Some(id) if id == task.id => {
                Err(invalid(field, "a task cannot be placed next to itself"))
            }
            Some(id) => match found.as_ref().filter(|n| n.id == id) {
                Some(n) => Ok(Some(n.clone())),
                None => Err(invalid(field, "is not an active task of this project")),
            },
        };
    let after = neighbour(input.after_id, &context.after, "after_id")?;
    let before = neighbour(input.before_id, &context.before, "before_id")?;
    let target = match input.status_id {
        Some(id) => context
            .status
            .clone()
            .filter(|s| s.id == id)
            .ok_or_else(|| invalid("status_id", "is not a status of this project"))?,
        None => after
            .as_ref()
            .or(before.as_ref())
            .map(|n| n.status.clone())
            .ok_or_else(|| invalid("status_id", "give status_id, after_id or before_id"))?,
    };
    for (field, n) in [("after_id", &after), ("before_id", &before)] {
        if n.as_ref().is_some_and(|n| n.status.id != target.id) {
            return Err(invalid(field, "is not in the target status"));
        }
    }
    let placement = match (&after, &before) {
        (Some(a), Some(b)) => rank::place(Some(&a.rank), Some(&b.rank)),
        (Some(a), None) => rank::place(Some(&a.rank), a.adjacent.as_ref()),
        (None, Some(b)) => rank::place(b.adjacent.as_ref(), Some(&b.rank)),
        (None, None) => Ok(Placement::Append),
    }
    .map_err(|_| invalid("after_id", "must be above before_id in the column"))?;
    let mut patch = TaskPatch {
        placement: Some(placement),
        ..TaskPatch::default()
    };
    let delta = change_status(&mut patch, &task, &target, at);
    Ok(TaskUpdatePlan {
        patch,
        delta,
        restore_project: false,
        at,
    })
}

pub(super) fn plan_archive(
    context: TaskContext,
    archive: bool,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskUpdatePlan, ArchiveTaskError> {
    // Unarchiving a task of an archived project restores the project.
    let task = check_change(&context, if_match, !archive)?;
    if task.is_archived() == archive {
        return Err(ArchiveTaskError::AlreadyInState { archived: archive });
    }
    let category = task.status.category;
    Ok(TaskUpdatePlan {
        patch: TaskPatch {
            archived_at: Some(archive.then_some(at)),
            // A task back from the archive goes to the end of its column: its old rank may
            // predate a rebalance of that column.
            placement: (!archive).then_some(Placement::Append),
            ..TaskPatch::default()
        },
        delta: if archive {
            AggregationDelta::archive(category)
        } else {
            AggregationDelta::unarchive(category)
        },
        restore_project: !archive && context.project.is_some_and(|p| p.archived_at.is_some()),
        at,
    })
}

pub(super) fn plan_delete(
    context: TaskContext,
    if_match: Option<u64>,
    at: DateTime<Utc>,
) -> Result<TaskDeletePlan, DeleteTaskError> {
    let task = check_change(&context, if_match, false)?;
    let own = (!task.is_archived()).then_some(task.status.category);
    let descendants = context
        .subtree
        .iter()
        .filter(|s| !s.archived)
        .map(|s| s.category);
    Ok(TaskDeletePlan {
        delta: own
            .into_iter()
            .chain(descendants)
            .map(AggregationDelta::delete)
            .sum(),
        at,
    })
}

/// An update whose fields passed validation.
#[derive(Debug, Clone, Default)]
pub(super) struct ValidUpdate {
    pub(super) title: Option<TaskTitle>,
    pub(super) description: Option<Option<TaskDescription>>,
    pub(super) status_id: Option<crate::ids::StatusId>,
    pub(super) priority: Option<crate::values::Priority>,
    pub(super) task_type: Option<crate::values::TaskType>,
    pub(super) story_points: Option<Option<StoryPoints>>,
    pub(super) due_date: Option<Option<chrono::NaiveDate>>,
    pub(super) assignee_id: Option<Option<UserId>>,
    pub(super) parent_id: Option<Option<TaskId>>,
    pub(super) label_ids: Option<Vec<crate::ids::LabelId>>,
}

pub(super) fn validate_update(input: &TaskUpdateInput) -> Result<ValidUpdate, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let update = ValidUpdate {
        title: input
            .title
            .as_deref()
            .and_then(|t| errors.check("title", TaskTitle::new(t))),
        description: match &input.description {
            None => None,
            Some(None) => Some(None),
            Some(Some(d)) => errors
                .check("description", TaskDescription::new(d))
                .map(Some),
        },
        story_points: match input.story_points {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => errors.check("story_points", StoryPoints::new(p)).map(Some),
        },
        status_id: input.status_id,
        priority: input.priority,
        task_type: input.task_type,
        due_date: match input.due_date {
            None => None,
            Some(None) => Some(None),
            Some(Some(d)) => errors.check("due_date", check_due_date(d)).map(Some),
        },
        assignee_id: input.assignee_id,
        parent_id: input.parent_id,
        label_ids: input.label_ids.as_ref().map(|ids| {
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            unique
        }),
    };
    // Counted as sent, as the schema's `maxItems` counts them.
    if input
        .label_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > crate::services::labels::MAX_TASK_LABELS)
    {
        let most = crate::services::labels::MAX_TASK_LABELS;
        errors.add(
            "label_ids",
            format!("a task can have at most {most} labels"),
        );
    }
    if *input == TaskUpdateInput::default() {
        errors.add("body", "give at least one field to change");
    }
    errors.into_result().map(|()| update)
}

pub(super) fn label_ids(task: &Task) -> Vec<crate::ids::LabelId> {
    task.labels.iter().map(|l| l.id).collect()
}

/// The fields whose values differ between `before` and `after`.
pub(super) fn changed_fields(before: &Task, after: &Task) -> Vec<TaskField> {
    let user = |u: &Option<crate::model::UserSummary>| u.as_ref().map(|u| u.id);
    [
        (before.title != after.title, TaskField::Title),
        (
            before.description != after.description,
            TaskField::Description,
        ),
        (before.status.id != after.status.id, TaskField::Status),
        (before.priority != after.priority, TaskField::Priority),
        (before.task_type != after.task_type, TaskField::TaskType),
        (
            before.story_points != after.story_points,
            TaskField::StoryPoints,
        ),
        (before.due_date != after.due_date, TaskField::DueDate),
        (
            user(&before.assignee) != user(&after.assignee),
            TaskField::Assignee,
        ),
        (before.parent_id != after.parent_id, TaskField::Parent),
        (label_ids(before) != label_ids(after), TaskField::Labels),
    ]
    .into_iter()
    .filter_map(|(changed, field)| changed.then_some(field))
    .collect()
}
