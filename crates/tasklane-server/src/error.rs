//! One error type for every handler: [`ApiError`] renders `application/problem+json` with a
//! stable `code`, maps each domain error through its class in one `match`, and keeps the cause of
//! a 5xx for the log line the request middleware writes (with the request id), never for the body.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tasklane_domain::errors::{Classify, ErrorClass};
use utoipa::ToSchema;

/// A field that broke a rule (422 only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The field's name, or a path such as `tasks[3].title`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The body of every error response (RFC 9457 problem details).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// A stable machine-readable code (`not_found`, `version_mismatch`, …).
    pub code: &'static str,
    /// What happened, for people.
    pub detail: String,
    /// The broken rules, for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorBody>>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Option<Vec<FieldErrorBody>>,
    /// What went wrong inside, logged once by the request middleware for 5xx answers.
    cause: Option<anyhow::Error>,
    /// Seconds for `Retry-After` (503 and 429 answers).
    retry_after: Option<&'static str>,
}

/// The `Retry-After` a status gets unless the error says otherwise.
fn default_retry_after(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => Some("5"),
        StatusCode::TOO_MANY_REQUESTS => Some("60"),
        _ => None,
    }
}

impl ApiError {
    /// An error with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: None,
            cause: None,
            retry_after: default_retry_after(status),
        }
    }

    /// The same error answered with `Retry-After: seconds`.
    #[must_use]
    pub fn retry_after(mut self, seconds: &'static str) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 `bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such resource, or you cannot see it",
        )
    }

    /// 422 `validation_failed` with one field error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the input breaks a rule",
        );
        error.errors = Some(vec![FieldErrorBody {
            field: field.to_owned(),
            message: message.into(),
        }]);
        error
    }

    /// 500 `internal`: the cause is logged, the client learns nothing more.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        );
        error.cause = Some(cause.into());
        error
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The cause, for the log line of a 5xx.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.cause.as_ref()
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl<E> From<E> for ApiError
where
    E: Classify + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        let (status, code) = match error.class() {
            ErrorClass::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorClass::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
            ErrorClass::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ErrorClass::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorClass::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ErrorClass::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorClass::KeyTaken => (StatusCode::CONFLICT, "key_taken"),
            ErrorClass::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            ErrorClass::AlreadyMember => (StatusCode::CONFLICT, "already_member"),
            ErrorClass::Archived => (StatusCode::CONFLICT, "archived"),
            ErrorClass::VersionMismatch => (StatusCode::PRECONDITION_FAILED, "version_mismatch"),
            ErrorClass::BadSince => (StatusCode::BAD_REQUEST, "bad_since"),
            ErrorClass::ResyncRequired => (StatusCode::GONE, "resync_required"),
            ErrorClass::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ErrorClass::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ErrorClass::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let errors = error.field_errors().map(|errors| {
            errors
                .errors()
                .iter()
                .map(|e| FieldErrorBody {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect()
        });
        let detail = match code {
            "unavailable" => "the database is unavailable; retry shortly".to_owned(),
            _ => match status {
                StatusCode::INTERNAL_SERVER_ERROR => "something went wrong on our side".to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY => "the input breaks one or more rules".to_owned(),
                _ => error.to_string(),
            },
        };
        // Only failures inside are worth a log line with their cause; an overload is a state.
        let cause = (status == StatusCode::INTERNAL_SERVER_ERROR || code == "unavailable")
            .then(|| anyhow::Error::new(error));
        Self {
            status,
            code,
            detail,
            errors,
            cause,
            // An overload clears as soon as a hash finishes.
            retry_after: if code == "overloaded" {
                Some("1")
            } else {
                default_retry_after(status)
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/problem+json");
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a late body may still be on its way: end the connection.
            response.force_close();
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static(seconds)));
        }
        response.json(self.problem())
    }
}

/// Extractor failures (malformed JSON, wrong types, unknown enum values, a path segment that is
/// not a UUID, a body over the limit) as problem documents: 400, or 413 for size.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::http::StatusCode;
    use actix_web::{Error, HttpRequest};

    use super::ApiError;

    /// For `web::Json`.
    pub fn json(error: JsonPayloadError, _: &HttpRequest) -> Error {
        match &error {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is over 1 MiB",
                )
                .into()
            }
            JsonPayloadError::ContentType => {
                ApiError::bad_request("the body must be JSON (Content-Type: application/json)")
                    .into()
            }
            JsonPayloadError::Deserialize(inner) => {
                ApiError::bad_request(format!("malformed body: {inner}")).into()
            }
            JsonPayloadError::Payload(inner) if super::is_body_timeout(inner) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            )
            .into(),
            other => ApiError::bad_request(format!("unreadable body: {other}")).into(),
        }
    }

    /// For `web::Path`.
    pub fn path(error: PathError, _: &HttpRequest) -> Error {
        ApiError::bad_request(format!("malformed path: {error}")).into()
    }

    /// For `web::Query`.
    pub fn query(error: QueryPayloadError, _: &HttpRequest) -> Error {
        ApiError::bad_request(format!("malformed query: {error}")).into()
    }
}

/// Whether a body read failed because the body came too slowly.
fn is_body_timeout(error: &actix_web::error::PayloadError) -> bool {
    matches!(error, actix_web::error::PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use tasklane_domain::errors::RepoError;
    use tasklane_domain::services::projects::CreateProjectError;
    use tasklane_domain::validation::ValidationErrors;
    use tasklane_domain::values::ProjectKey;

    use super::*;

    #[test]
    fn domain_errors_map_to_their_status_and_code_and_hide_internals() {
        let taken: ApiError = CreateProjectError::KeyTaken(ProjectKey::new("WEB").unwrap()).into();
        assert_eq!(
            (taken.status(), taken.problem().code),
            (StatusCode::CONFLICT, "key_taken")
        );
        let invalid: ApiError =
            CreateProjectError::Invalid(ValidationErrors::single("name", "must not be empty"))
                .into();
        let problem = invalid.problem();
        assert_eq!((problem.status, problem.code), (422, "validation_failed"));
        assert_eq!(problem.errors.unwrap()[0].field, "name");
        let down: ApiError = CreateProjectError::Store(RepoError::Unavailable(anyhow::anyhow!(
            "connection refused"
        )))
        .into();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!down.problem().detail.contains("refused"));
        let bug: ApiError = CreateProjectError::Store(RepoError::other("secret detail")).into();
        assert_eq!(bug.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !serde_json::to_string(&bug.problem())
                .unwrap()
                .contains("secret")
        );
        assert!(bug.cause().is_some(), "kept for the log");
    }
}
