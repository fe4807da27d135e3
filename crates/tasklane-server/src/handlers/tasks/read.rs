//! Task reads: a board page (with its `ETag`, and 304 for an unchanged one), one task by id or
//! by key.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use tasklane_domain::ids::ProjectId;
use tasklane_domain::model::{Page, Task};
use tasklane_domain::ports::ListingVersion;
use tasklane_domain::services::tasks::ListingGate;
use uuid::Uuid;

use super::task_response;
use crate::auth::Actor;
use crate::dto::{PageDto, TaskDto, TaskListQuery};
use crate::error::{ApiError, Problem};
use crate::pages::{Claim, Handoff, TASK_PAGES_TOTAL, at_least};
use crate::state::AppState;

/// Splits the repeatable `label_id` out of a query string: the ids, and the rest of the query
/// as it was sent (for the other parameters, each given at most once).
fn label_ids(query: &str) -> Result<(Vec<Uuid>, String), ApiError> {
    let mut ids = Vec::new();
    let mut rest = Vec::new();
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(segment)
            .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?;
        match pairs.first() {
            Some((key, value)) if key == "label_id" => {
                let id = Uuid::try_parse(value)
                    .map_err(|_| ApiError::bad_request("label_id must be a UUID"))?;
                ids.push(id);
            }
            _ => rest.push(segment),
        }
    }
    Ok((ids, rest.join("&")))
}

/// The `ETag` of a task listing: its version, weak because it names the page's content, not
/// its bytes.
fn listing_etag(version: ListingVersion) -> String {
    format!("W/\"{}.{}\"", version.project_seq, version.directory)
}

/// The listing version `If-None-Match` names: the first of its tags that is one of
/// [`listing_etag`]'s, compared weakly. `Any` for `*`. A header that names none (another
/// server's tags, or not a tag list at all) is no condition: the page is sent, as for a client
/// that holds nothing.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    Any,
    Version(ListingVersion),
}

fn held(request: &HttpRequest) -> Held {
    let Some(text) = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
    else {
        return Held::Nothing;
    };
    if text.trim() == "*" {
        return Held::Any;
    }
    let version = |tag: &str| {
        let tag = tag.trim();
        let quoted = tag.strip_prefix("W/").unwrap_or(tag);
        let (seq, directory) = quoted
            .strip_prefix('"')?
            .strip_suffix('"')?
            .split_once('.')?;
        let number = |digits: &str| {
            (!digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<u64>().ok())
                .flatten()
        };
        Some(ListingVersion {
            project_seq: number(seq)?,
            directory: number(directory)?,
        })
    };
    text.split(',')
        .find_map(version)
        .map_or(Held::Nothing, Held::Version)
}

/// A page of the project's tasks, keyset-paginated: board order (status position, rank, id),
/// most recently changed first, soonest due first or highest priority first. Filters combine
/// with AND; `label_id` may be repeated and matches tasks with any of them.
///
/// Every page carries an `ETag`, the version of the project's tasks as listed (it moves with
/// every change in the project and every profile change); sent back in `If-None-Match`, an
/// unchanged page is answered 304 with no body, for one SQL statement instead of two.
#[utoipa::path(
    tag = "tasks",
    params(
        TaskListQuery,
        ("label_id" = Option<Vec<Uuid>>, Query, style = Form, explode, max_items = 20,
            description = "Only tasks with any of these labels; repeat it, at most 20 times"),
        ("If-None-Match" = Option<String>, Header,
            description = "The `ETag` of the page the client holds (`W/\"<seq>.<directory>\"`), or `*`; anything else is ignored"),
    ),
    responses(
        (status = 200, body = PageDto<TaskDto>, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The page the client holds is the current one", headers(("ETag" = String))),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[get("/projects/{id}/tasks")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (labels, rest) = label_ids(request.query_string())?;
    let query = web::Query::<TaskListQuery>::from_query(&rest)
        .map_err(|e| ApiError::bad_request(format!("malformed query: {e}")))?;
    let project = ProjectId::from(id.into_inner());
    let held = held(&request);
    let gate = state
        .services
        .tasks
        .open_listing(actor.0, project, query.into_inner().into_input(labels))
        .await?;
    let current = gate.version();
    let found = match held {
        Held::Version(version) if version == current => None,
        Held::Any => None,
        _ => Some(find_page(&state, &gate, project, request.query_string()).await?),
    };
    let tag = found.as_ref().map_or(current, |(_, version, _)| *version);
    // A copy newer than the version read may be the one the client holds.
    let found = found.filter(|(_, version, _)| held != Held::Version(*version));
    let answer = found.as_ref().map_or("not_modified", |(how, _, _)| *how);
    metrics::counter!(TASK_PAGES_TOTAL, "answer" => answer).increment(1);
    let mut builder = match found {
        Some(_) => HttpResponse::Ok(),
        None => HttpResponse::NotModified(),
    };
    builder
        .insert_header((header::ETAG, listing_etag(tag)))
        // Clients and caches may keep the page, but ask again each time: it changes with
        // every write to the project.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    Ok(match found {
        Some((_, _, body)) => builder.content_type(header::ContentType::json()).body(body),
        None => builder.finish(),
    })
}

/// The page of an opened listing for a reader that does not hold it: this instance's copy at
/// the version read or later, another reader's page query under way, or a query of its own.
/// How it was found, its version and its body.
async fn find_page(
    state: &AppState,
    gate: &ListingGate,
    project: ProjectId,
    query: &str,
) -> Result<(&'static str, ListingVersion, Bytes), ApiError> {
    let (pages, current) = (&state.pages, gate.version());
    if let Some((version, body)) = pages.get(project, query)
        && at_least(version, current)
    {
        return Ok(("cached", version, body));
    }
    let (reader, version) = match pages.claim(project, query, current) {
        Claim::Wait(shared) => match shared.await {
            Ok(Handoff::Page((version, body))) => return Ok(("shared", version, body)),
            // The read after the one under way, for readers at this version or later ones.
            Ok(Handoff::Read(reader, version)) => (Some(reader), version),
            // The reader waited for went away: read it here, without a claim.
            Err(_) => (None, current),
        },
        Claim::Read(reader) => (Some(reader), current),
    };
    let body = page_body(&state.services.tasks.read_listing(gate).await?)?;
    if let Some(reader) = reader {
        reader.done(version, body.clone());
    }
    Ok(("read", version, body))
}

/// A page as its JSON body.
fn page_body(page: &Page<Task>) -> Result<Bytes, ApiError> {
    serde_json::to_vec(&PageDto {
        items: page.items.iter().map(TaskDto::from).collect(),
        next_cursor: page.next_cursor.clone(),
    })
    .map(Bytes::from)
    .map_err(ApiError::internal)
}

/// One task.
#[utoipa::path(tag = "tasks", responses((status = 200, body = TaskDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/tasks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task = state
        .services
        .tasks
        .get_task(actor.0, id.into_inner().into())
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}

/// One task by its key (`WEB-42`).
#[utoipa::path(tag = "tasks", responses((status = 200, body = TaskDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/tasks/by-key/{key}")]
pub async fn by_key(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (project, key) = path.into_inner();
    let task = state
        .services
        .tasks
        .get_task_by_key(actor.0, project.into(), &key)
        .await?;
    Ok(task_response(HttpResponse::Ok(), &task))
}
