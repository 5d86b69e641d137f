//! `POST /api/v1/webhooks/{crewId}/{agentId}/trigger` (`docs/webhooks.md`): HTTP around the use
//! case of
//! `crewship_core::ingest`. Reads the body under its limit (step 3) and the request once, calls
//! [`ingest::accept`], and maps its outcome or refusal to a status, a JSON body and headers.
//!
//! - `body`: the body under the size limit.
//! - `request`: headers and path into the use case's `TriggerRequest`.

pub(crate) mod body;
mod request;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crewship_core::ids::RunId;
use crewship_core::ingest::{
    self, Accepted, ErrorClass, IngestSettings, Outcome, Quota, Rejection,
};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn trigger(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: axum::extract::Request,
) -> Response {
    // A path segment that is not UTF-8 once percent-decoded names no agent: it goes through the
    // same steps (and gets the same JSON `401`) as any unknown agent, not axum's plain-text 400.
    let (crew, agent) = path.map(|Path(p)| p).unwrap_or_default();
    let (parts, body) = request.into_parts();
    let config = &state.config;
    let body = match body::read_limited(&parts.headers, body, config.body_limit_bytes).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let request = request::read(crew, agent, &parts.headers, body);
    let settings = IngestSettings {
        timestamp_tolerance: config.timestamp_tolerance,
        dedup_window: config.dedup_window,
        legacy_secret_sunset: config.legacy_secret_sunset,
        max_json_depth: config.max_json_depth,
    };
    let (mut response, legacy_secret) =
        match ingest::accept(&state.ports, &state.limiter, &settings, request).await {
            Ok(Accepted {
                outcome,
                legacy_secret,
            }) => (accepted(outcome), legacy_secret),
            Err(e) => (refused(e.rejection).into_response(), e.legacy_secret),
        };
    if legacy_secret {
        deprecation_headers(response.headers_mut(), &state);
    }
    response
}

/// Every answer after `X-Webhook-Secret` authenticated, errors included.
fn deprecation_headers(headers: &mut HeaderMap, state: &AppState) {
    headers.insert(
        "deprecation",
        HeaderValue::from_static("version=\"X-Webhook-Secret\""),
    );
    let sunset = httpdate::fmt_http_date(state.config.legacy_secret_sunset.into());
    if let Ok(v) = HeaderValue::from_str(&sunset) {
        headers.insert("sunset", v);
    }
}

fn accepted(outcome: Outcome) -> Response {
    let (run_id, quota, status) = match &outcome {
        Outcome::Created { run_id, quota } => (run_id, Some(*quota), "accepted"),
        Outcome::Filtered { run_id, quota } => (run_id, Some(*quota), "filtered"),
        Outcome::Duplicate { original } => (original, None, "accepted"),
        Outcome::Challenge(challenge) => {
            return (StatusCode::OK, Json(json!({ "challenge": challenge }))).into_response();
        }
    };
    let mut response = run_accepted(status, run_id, quota);
    if quota.is_none() {
        let headers = response.headers_mut();
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `202 {"status":…,"run_id":…}` with `Location` and, when the run spent a token, `RateLimit-*`:
/// the answer of an accepted trigger, a filtered one, and a replay.
pub(crate) fn run_accepted(status: &str, run_id: &RunId, quota: Option<Quota>) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"status": status, "run_id": run_id})),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/runs/{run_id}")) {
        headers.insert(header::LOCATION, location);
    }
    for (name, value) in quota.map(quota_headers).into_iter().flatten() {
        headers.insert(name, value.into());
    }
    response
}

/// A refusal of the trigger use case (also a replay's: the same rate limit and cap) as HTTP.
pub(crate) fn refused(rejection: Rejection) -> ApiError {
    let status = match rejection.class() {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorClass::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorClass::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    let quota = rejection.quota();
    let mut error = match rejection {
        Rejection::Unavailable { what, source } => return ApiError::unavailable(what, &*source),
        rejection => ApiError::new(status, rejection.code(), rejection.to_string()),
    };
    if let Some(quota) = quota {
        error = error.with_header(header::RETRY_AFTER, quota.reset_secs.max(1));
        for (name, value) in quota_headers(quota) {
            error = error.with_header(name, value);
        }
    }
    error
}

fn quota_headers(quota: Quota) -> [(HeaderName, u64); 3] {
    [
        (
            HeaderName::from_static("ratelimit-limit"),
            u64::from(quota.limit),
        ),
        (
            HeaderName::from_static("ratelimit-remaining"),
            u64::from(quota.remaining),
        ),
        (HeaderName::from_static("ratelimit-reset"), quota.reset_secs),
    ]
}
