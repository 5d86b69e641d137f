//! The dashboard's files, embedded at compile time, and the security headers they are served
//! with. Every dynamic value on the page is rendered with `textContent`, and the policy below
//! would stop an injected inline script or a foreign origin even if one slipped through.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

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

pub async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> Response {
    with_headers("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    with_headers("text/css; charset=utf-8", STYLE)
}
