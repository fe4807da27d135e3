//! What every request meets before its handler:
//!
//! - [`to_completion`]: a write (any method but GET, HEAD, OPTIONS) runs on a task of its own, so
//!   a client that hangs up cannot cut a received write off between its commit and its events.
//! - [`body_deadline`]: a request body must arrive within a deadline (408 otherwise), so a
//!   client announcing a large body and sending it slowly cannot hold a connection.
//! - [`fallback`]: an unknown path is 404; a known path with a method it does not serve is 405
//!   with `Allow` (and `OPTIONS` is answered with `Allow`), both from the OpenAPI document.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures::Stream;
use tokio::time::Sleep;
use tracing::Instrument;

use crate::error::ApiError;

/// Runs writes to completion: the rest of the request (handler, commit, events, metrics) goes
/// on a local task that outlives the connection. Reads stay on the connection's task, so a
/// client that goes away stops them.
///
/// # Errors
/// Whatever the inner service returns; 500 if the detached task panicked.
pub async fn to_completion<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.call(request).await;
    }
    let span = tracing::Span::current();
    actix_web::rt::spawn(async move { next.call(request).await }.instrument(span))
        .await
        .map_err(|panicked| {
            ApiError::internal(anyhow::anyhow!("the request task failed: {panicked}")).into()
        })
        .and_then(|response| response)
}

/// The WebSocket route, whose body is the socket itself.
const WEBSOCKET_PATH: &str = "/api/v1/ws";

/// How long a request body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// Puts the [`BodyDeadline`] on the request's body. The WebSocket route is left alone: its
/// "body" is the socket. (Only that route: an `Upgrade` header elsewhere must not lift the
/// deadline.)
///
/// # Errors
/// Whatever the inner service returns.
pub async fn body_deadline<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let deadline = request.app_data::<web::Data<BodyDeadline>>().map(|d| d.0);
    let socket = request.method() == Method::GET && request.path() == WEBSOCKET_PATH;
    if let (Some(deadline), false) = (deadline, socket) {
        let body = DeadlineBody {
            inner: request.take_payload(),
            timer: Box::pin(tokio::time::sleep(deadline)),
        };
        let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
        request.set_payload(Payload::from(body));
    }
    next.call(request).await
}

/// A body that fails with `TimedOut` once its timer fires before it ended.
struct DeadlineBody {
    inner: Payload,
    timer: Pin<Box<Sleep>>,
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            let late = io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            );
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        Poll::Pending
    }
}

/// Every documented path as its segments (`{…}` matches any one segment) with the methods it
/// serves, as an `Allow` value.
fn routes() -> &'static [(Vec<String>, String)] {
    static ROUTES: OnceLock<Vec<(Vec<String>, String)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        crate::openapi()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ];
                let allow: Vec<&str> = methods
                    .iter()
                    .filter(|(_, served)| *served)
                    .map(|(name, _)| *name)
                    .collect();
                (segments, allow.join(", "))
            })
            .collect()
    })
}

/// The `Allow` value of the documented path `path` matches, if any.
fn allowed(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    routes().iter().find_map(|(pattern, allow)| {
        let matches = pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && p.ends_with('}') && !s.is_empty()));
        matches.then_some(allow.as_str())
    })
}

/// The answer for a request no route took: 404, or 405 (204 for `OPTIONS`) with `Allow`.
pub async fn fallback(request: HttpRequest) -> HttpResponse {
    // A documented method that no route took is not served here, and neither is a documented
    // path with no route on this port (`/metrics` on its own address): not found, as an unknown
    // path.
    let off_this_port = request.path() == "/metrics"
        && request
            .app_data::<web::Data<crate::AppState>>()
            .is_some_and(|state| !state.metrics_on_api);
    let Some(allow) = allowed(request.path())
        .filter(|allow| !allow.split(", ").any(|m| m == request.method().as_str()))
        .filter(|_| !off_this_port)
    else {
        return ApiError::not_found().error_response();
    };
    let allow = HeaderValue::from_static(allow);
    let mut response = if request.method() == Method::OPTIONS {
        HttpResponse::NoContent().finish()
    } else {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} is not served here; allowed: {}",
                request.method(),
                allow.to_str().unwrap_or_default()
            ),
        )
        .error_response()
    };
    response.headers_mut().insert(header::ALLOW, allow);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_answer_with_the_methods_they_serve() {
        assert_eq!(allowed("/api/v1/projects"), Some("GET, POST"));
        assert_eq!(
            allowed("/api/v1/projects/0190b3a4-7c1e-7d2a-9f00-1a2b3c4d5e6f"),
            Some("GET, DELETE, PATCH")
        );
        assert_eq!(allowed("/api/v1/projects/x/nothing"), None);
        assert_eq!(allowed("/api/v1/projects//statuses"), None);
        assert_eq!(allowed("/nowhere"), None);
    }
}
