//! The web page at `/`: a board in the browser and the reference client of the API and the
//! realtime protocol (docs/page.md). Its files (`web/`: HTML, CSS and JavaScript modules, no
//! build step) are embedded in the binary at compile time, so `cargo run` serves them with no
//! file system, CDN or Node.js.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and connections only
//! from this origin, no inline script, no framing): the page renders user text with
//! `textContent` only, and the policy stops whatever slipped through from running.

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    /// Its name under `/app/` (`index.html` is served at `/`).
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// An [`Asset`] from `web/`, embedded at build time.
macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../web/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("live.js", "text/javascript; charset=utf-8"),
    asset!("board.js", "text/javascript; charset=utf-8"),
    asset!("panels.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
];

/// What the page may load and where it may connect: this origin only (`'self'` covers the
/// same-host WebSocket). No inline script or style attribute, no plug-ins, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The page's routes: `/` and `/app/{name}`, for GET and HEAD.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(index))
        .route("/", web::head().to(index))
        .route("/app/{name}", web::get().to(asset))
        .route("/app/{name}", web::head().to(asset));
}

async fn index(request: HttpRequest) -> HttpResponse {
    serve(&request, "index.html")
}

async fn asset(request: HttpRequest, name: web::Path<String>) -> HttpResponse {
    serve(&request, &name)
}

/// The asset named `name` with its strong `ETag` (a hash of its bytes), 304 when the client's
/// `If-None-Match` names it; 404 problem+json for a name the page does not have. Every answer,
/// the 404 included, carries the page's security headers.
fn serve(request: &HttpRequest, name: &str) -> HttpResponse {
    let mut response = match ASSETS
        .iter()
        .zip(tags())
        .find(|(asset, _)| asset.name == name)
    {
        None => ApiError::not_found().error_response(),
        Some((asset, tag)) => {
            let fresh = request
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
            let mut builder = if fresh {
                HttpResponse::NotModified()
            } else {
                HttpResponse::Ok()
            };
            builder
                .insert_header((header::ETAG, tag.as_str()))
                // Revalidate on every load: a new binary's page never mixes with an old one's modules.
                .insert_header((header::CACHE_CONTROL, "no-cache"));
            if fresh {
                builder.finish()
            } else {
                builder.content_type(asset.content_type).body(asset.body)
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The assets' tags, in [`ASSETS`] order, computed once.
fn tags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                format!("\"{}\"", hex::encode(&digest[..12]))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page imports is served: a file added to `web/` without a row in
    /// [`ASSETS`] would load as a 404 and break the page.
    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|asset| asset.name).collect();
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            for (at, _) in text.match_indices("/app/") {
                let rest = &text[at + "/app/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                assert!(
                    names.contains(&name),
                    "{} refers to /app/{name}, which is not embedded",
                    asset.name
                );
            }
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(from) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let name = from.trim_start_matches("./");
                assert!(
                    names.contains(&name),
                    "{} imports {from}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn tags_differ_between_assets() {
        let tags = tags();
        for (i, a) in tags.iter().enumerate() {
            assert!(!tags[i + 1..].contains(a), "two assets share the tag {a}");
        }
    }
}
