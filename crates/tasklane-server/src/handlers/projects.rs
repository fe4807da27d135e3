//! `/projects`: create, list, read, update, archive, restore, delete, aggregation, recount.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use tasklane_domain::services::projects::{NewProjectInput, ProjectListInput, ProjectUpdateInput};
use uuid::Uuid;

use crate::auth::Actor;
use crate::dto::{
    AggregationDto, CreateProjectRequest, PageDto, ProjectDto, ProjectListQuery, RecountDto,
    UpdateProjectRequest,
};
use crate::error::{ApiError, Problem};
use crate::handlers::{if_match, no_content, with_etag};
use crate::state::AppState;

fn project_response(builder: actix_web::HttpResponseBuilder, dto: ProjectDto) -> HttpResponse {
    with_etag(builder, dto.row_version).json(dto)
}

/// Creates a project owned by the caller, with five default statuses.
#[utoipa::path(
    tag = "projects",
    request_body = CreateProjectRequest,
    responses(
        (status = 201, body = ProjectDto, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`key_taken`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[post("/projects")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<CreateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewProjectInput {
        key: body.key,
        name: body.name,
        description: body.description,
    };
    let view = state
        .services
        .projects
        .create_project(actor.0, input)
        .await?;
    let mut builder = HttpResponse::Created();
    builder.insert_header((
        header::LOCATION,
        format!("/api/v1/projects/{}", view.project.id),
    ));
    Ok(project_response(builder, ProjectDto::from(&view)))
}

/// The caller's projects, newest activity first.
#[utoipa::path(tag = "projects", params(ProjectListQuery), responses((status = 200, body = PageDto<ProjectDto>), (status = 422, body = Problem)), security(("bearer" = [])))]
#[get("/projects")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<ProjectListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let input = ProjectListInput {
        limit: query.limit,
        cursor: query.cursor,
        search: query.search,
        include_archived: query.include_archived.unwrap_or(false),
        derived_status: query.derived_status.map(Into::into),
    };
    let page = state
        .services
        .projects
        .list_projects(actor.0, input)
        .await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.iter().map(ProjectDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One project.
#[utoipa::path(tag = "projects", responses((status = 200, body = ProjectDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .services
        .projects
        .get_project(actor.0, id.into_inner().into())
        .await?;
    Ok(project_response(
        HttpResponse::Ok(),
        ProjectDto::from(&view),
    ))
}

/// Renames or redescribes a project (owners, editors). `If-Match` optional.
#[utoipa::path(
    tag = "projects",
    request_body = UpdateProjectRequest,
    params(("If-Match" = Option<String>, Header, description = "`\"<row_version>\"`")),
    responses(
        (status = 200, body = ProjectDto),
        (status = 403, body = Problem),
        (status = 409, description = "`archived`", body = Problem),
        (status = 412, description = "`version_mismatch`", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("bearer" = []))
)]
#[patch("/projects/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<UpdateProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = ProjectUpdateInput {
        name: body.name,
        description: body.description,
    };
    let view = state
        .services
        .projects
        .update_project(actor.0, id.into_inner().into(), input, if_match(&request)?)
        .await?;
    Ok(project_response(
        HttpResponse::Ok(),
        ProjectDto::from(&view),
    ))
}

/// Deletes a project and everything in it (owners).
#[utoipa::path(tag = "projects", responses((status = 204), (status = 403, body = Problem)), security(("bearer" = [])))]
#[delete("/projects/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .projects
        .delete_project(actor.0, id.into_inner().into())
        .await?;
    Ok(no_content())
}

/// Archives a project (owners).
#[utoipa::path(tag = "projects", responses((status = 200, body = ProjectDto), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
#[post("/projects/{id}/archive")]
pub async fn archive(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .services
        .projects
        .set_archived(actor.0, id.into_inner().into(), true)
        .await?;
    Ok(project_response(
        HttpResponse::Ok(),
        ProjectDto::from(&view),
    ))
}

/// Restores an archived project (owners).
#[utoipa::path(tag = "projects", responses((status = 200, body = ProjectDto), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
#[post("/projects/{id}/restore")]
pub async fn restore(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .services
        .projects
        .set_archived(actor.0, id.into_inner().into(), false)
        .await?;
    Ok(project_response(
        HttpResponse::Ok(),
        ProjectDto::from(&view),
    ))
}

/// The project's task counts and derived status.
#[utoipa::path(tag = "projects", responses((status = 200, body = AggregationDto), (status = 404, body = Problem)), security(("bearer" = [])))]
#[get("/projects/{id}/aggregation")]
pub async fn aggregation(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .services
        .projects
        .get_aggregation(actor.0, id.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(AggregationDto::from(&view)))
}

/// Recomputes the counts from the tasks and repairs them (owners).
#[utoipa::path(tag = "projects", responses((status = 200, body = RecountDto), (status = 403, body = Problem)), security(("bearer" = [])))]
#[post("/projects/{id}/aggregation/recount")]
pub async fn recount(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let recount = state
        .services
        .projects
        .recount(actor.0, id.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(RecountDto::from(&recount)))
}
