//! `/projects/{id}/tasks` and `/tasks/{id}`.

pub mod change;
pub mod create;
pub mod read;

use actix_web::{HttpResponse, HttpResponseBuilder};
use tasklane_domain::model::Task;

use crate::dto::TaskDto;
use crate::handlers::with_etag;

/// A task answer with its `ETag`.
fn task_response(builder: HttpResponseBuilder, task: &Task) -> HttpResponse {
    with_etag(builder, task.row_version).json(TaskDto::from(task))
}
