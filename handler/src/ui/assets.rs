//! The dashboard's files, embedded at compile time, and the security headers they are served
//! with. Every dynamic value on the page is rendered with `textContent`, and the policy below
//! would stop an injected inline script or a foreign origin even if one slipped through.

use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Every file of the dashboard: name under `/ui/`, content type, contents. The scripts are ES
/// modules that import each other by these names.
pub const FILES: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("assets/index.html")),
    ("app.css", CSS, include_str!("assets/app.css")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("session.js", JS, include_str!("assets/session.js")),
    ("dom.js", JS, include_str!("assets/dom.js")),
    ("api.js", JS, include_str!("assets/api.js")),
    ("live.js", JS, include_str!("assets/live.js")),
    ("runs.js", JS, include_str!("assets/runs.js")),
    ("run.js", JS, include_str!("assets/run.js")),
    ("agents.js", JS, include_str!("assets/agents.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Only the page's own script and stylesheet; API calls and the WebSocket go to the page's own
/// origin (`'self'` covers `ws:`/`wss:` of the same host). No frames, no plugins, no base
/// rewriting, no form posts: sign-in is handled by the script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

fn with_headers(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 7] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // Small files: revalidating costs nothing and an upgrade is never half-applied.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    (headers, body).into_response()
}

/// `GET /ui/`: the page.
pub async fn index() -> Response {
    file(Path("index.html".to_owned())).await
}

/// `GET /ui/{file}`: one of [`FILES`], or the API's JSON `404`.
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => with_headers(content_type, body),
        None => ApiError::not_found("no such dashboard file").into_response(),
    }
}
