//! `POST /api/v1/webhooks/{crewId}/{agentId}/trigger`: SPEC §1, step by step, in order.

mod admission;
pub(crate) mod body;
mod credentials;
mod timestamp;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use crewship_core::agent::Agent;
use crewship_core::auth::{Credential, Unverified, Verified};
use crewship_core::ids::{AgentId, CrewId, RunId};
use crewship_core::payload::Payload;
use crewship_core::run::{AuthScheme, NewRun, Run, RunStatus};
use crewship_core::store::Reservation;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use admission::{Quota, RateLimiter};
pub use timestamp::{TimestampError, check as check_timestamp};

use crate::error::{ApiError, ApiResult};
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
    let mut legacy_authenticated = false;
    let mut response = accept(
        &state,
        &crew,
        &agent,
        &parts.headers,
        body,
        &mut legacy_authenticated,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response);
    if legacy_authenticated {
        let headers = response.headers_mut();
        headers.insert(
            "deprecation",
            HeaderValue::from_static("version=\"X-Webhook-Secret\""),
        );
        let sunset = httpdate::fmt_http_date(state.config.legacy_secret_sunset.into());
        if let Ok(v) = HeaderValue::from_str(&sunset) {
            headers.insert("sunset", v);
        }
    }
    response
}

/// Steps 3–13. `legacy_authenticated` is set as soon as the plaintext secret verified, so that
/// every later answer, errors included, carries the deprecation headers.
async fn accept(
    state: &AppState,
    crew: &str,
    agent: &str,
    headers: &HeaderMap,
    body: Body,
    legacy_authenticated: &mut bool,
) -> ApiResult<Response> {
    let config = &state.config;
    let body = body::read_limited(headers, body, config.body_limit_bytes).await?;
    let Some(credential) = credentials::select(headers)? else {
        return Err(ApiError::unauthorized(
            "missing_credentials",
            "no credentials: send X-Signature with the hex HMAC-SHA256 of the raw body, keyed by \
             the agent's webhook secret",
        ));
    };
    let now = state.ports.clock.now();
    if let Some(ts) = credential.timestamp() {
        timestamp::check(ts, now, config.timestamp_tolerance).map_err(|e| match e {
            TimestampError::Invalid => ApiError::bad_request(
                "invalid_timestamp",
                "the timestamp must be Unix time in whole seconds: 1 to 19 decimal digits",
            ),
            TimestampError::Stale => ApiError::bad_request(
                "stale_timestamp",
                format!(
                    "the timestamp is more than {}s away from the server clock; sign with the \
                     current time",
                    config.timestamp_tolerance.as_secs()
                ),
            ),
        })?;
    }
    if matches!(credential, Credential::LegacySecret(_)) && now > config.legacy_secret_sunset {
        return Err(ApiError::unauthorized(
            "legacy_secret_retired",
            "the X-Webhook-Secret header was retired; send X-Signature with the hex HMAC-SHA256 \
             of the raw body, keyed by the webhook secret, instead",
        ));
    }

    let agent = lookup(state, crew, agent).await?;
    let scheme = credential.scheme();
    let verified = match (Unverified { credential, body }).authenticate(agent.as_ref(), now) {
        Ok(verified) => verified,
        Err(unverified) => return Err(auth_failed(scheme, &unverified.body, agent.as_ref())),
    };
    let agent = agent.expect("only a known agent verifies");
    *legacy_authenticated = scheme == AuthScheme::LegacySecret;

    if agent.require_timestamp && !scheme.is_timestamped() {
        return Err(ApiError::bad_request(
            "timestamp_required",
            "this agent requires timestamped signatures: send X-Timestamp (Unix seconds) and \
             X-Signature with the hex HMAC-SHA256 of \"<timestamp>.<body>\"",
        ));
    }
    check_content_type(headers, verified.body())?;
    let payload = Payload::parse(verified.body(), credentials::sender_hints(headers))
        .map_err(|e| ApiError::bad_request("invalid_payload", e.0))?;

    let delivery_id = credentials::delivery_id(headers).map(str::to_owned);
    let keys = dedup_keys(delivery_id.as_deref(), &verified);
    let run_id = RunId::generate();
    let expires = now + config.dedup_window;
    let reservation = state
        .ports
        .dedup
        .reserve(&agent.id, &keys, &run_id, now, expires)
        .await
        .map_err(|e| ApiError::unavailable("run store", &e))?;
    if let Reservation::Duplicate(original) = reservation {
        tracing::info!(agent_id = %agent.id, run_id = %original, "duplicate delivery replayed");
        let mut response = accepted(&original);
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(response);
    }

    let release = || async {
        if let Err(e) = state.ports.dedup.release(&agent.id, &keys, &run_id).await {
            tracing::error!(error = %e, run_id = %run_id, "releasing delivery keys failed");
        }
    };
    let quota = match admit(state, &agent).await {
        Ok(quota) => quota,
        Err(e) => {
            release().await;
            return Err(e);
        }
    };

    let new = NewRun {
        id: run_id.clone(),
        event: payload.event,
        source: payload.source,
        auth_scheme: scheme,
        delivery_id,
        payload: payload.raw,
    };
    let mut run = Run::queued(&agent, new, now);
    if let Err(e) = state.ports.runs.create(&run).await {
        release().await;
        state.limiter.refund(&agent.id, agent.rate_limit_per_min);
        return Err(ApiError::unavailable("run store", &e));
    }
    if let Err(e) = state.ports.queue.send(&run.id).await {
        let err = ApiError::unavailable("run queue", &e);
        run.finish(
            RunStatus::Failed,
            None,
            Some("the run queue was unavailable; the run was not started".into()),
            state.ports.clock.now(),
        );
        if let Err(e) = state.ports.runs.update(&mut run, RunStatus::Queued).await {
            tracing::error!(error = %e, run_id = %run.id, "marking an unqueued run FAILED failed");
        }
        release().await;
        return Err(err);
    }
    tracing::info!(
        agent_id = %agent.id,
        crew_id = %agent.crew_id,
        run_id = %run.id,
        scheme = ?scheme,
        bytes = verified.body().len(),
        "webhook accepted"
    );
    let mut response = accepted(&run.id);
    quota_headers(response.headers_mut(), quota);
    Ok(response)
}

/// The agent the path names, if it exists and belongs to that crew. Ids that cannot exist are
/// treated like unknown agents, so the answer does not depend on which check failed.
async fn lookup(state: &AppState, crew: &str, agent: &str) -> ApiResult<Option<Agent>> {
    let (Ok(crew), Ok(agent)) = (crew.parse::<CrewId>(), agent.parse::<AgentId>()) else {
        return Ok(None);
    };
    let found = state
        .ports
        .agents
        .get(&agent)
        .await
        .map_err(|e| ApiError::unavailable("agent registry", &e))?;
    Ok(found.filter(|a| a.crew_id == crew))
}

/// The same `401` for every failure, with what helps a sender fix a real mistake (the scheme and
/// the bytes the server saw) and nothing derived from any secret.
fn auth_failed(scheme: AuthScheme, body: &Bytes, agent: Option<&Agent>) -> ApiError {
    tracing::warn!(
        agent_id = agent.map(|a| a.id.as_str()).unwrap_or("<unknown>"),
        scheme = ?scheme,
        bytes = body.len(),
        "webhook authentication failed"
    );
    ApiError::unauthorized(
        "invalid_credentials",
        format!(
            "{} did not verify for this agent. The server received a body of {} bytes with \
             SHA-256 {}; sign exactly these bytes (re-serialised JSON does not match)",
            scheme.header(),
            body.len(),
            hex::encode(Sha256::digest(body)),
        ),
    )
}

fn check_content_type(headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    if body.is_empty() {
        return Ok(());
    }
    let essence = credentials::header(headers, "content-type").map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let json = essence.as_deref().is_some_and(|e| {
        e == "application/json"
            || e.split_once('/')
                .is_some_and(|(_, sub)| sub.ends_with("+json"))
    });
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON: send Content-Type: application/json",
        ))
    }
}

/// SPEC §1.4: the delivery id, and the verified MAC with its timestamp, each scoped to the agent
/// by the store. Keys are digests, so their size does not depend on what the sender sent.
fn dedup_keys(delivery_id: Option<&str>, verified: &Verified) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if let Some(id) = delivery_id {
        keys.push(format!("d:{}", hex::encode(Sha256::digest(id))));
    }
    if let Some(tag) = verified.tag() {
        let ts = verified.timestamp().unwrap_or("");
        keys.push(format!("s:{}:{ts}", hex::encode(tag)));
    }
    keys
}

/// Step 11: the rate limit, then the cap on queued runs.
async fn admit(state: &AppState, agent: &Agent) -> ApiResult<Quota> {
    let limited = |quota: Quota, code, message: String| {
        let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
            .with_header(header::RETRY_AFTER, quota.reset_secs.max(1));
        for (name, value) in quota_header_values(quota) {
            err = err.with_header(name, value);
        }
        err
    };
    let quota = state
        .limiter
        .try_acquire(&agent.id, agent.rate_limit_per_min)
        .map_err(|quota| {
            limited(
                quota,
                "rate_limited",
                format!(
                    "this agent accepts at most {} webhooks per minute; retry after {}s",
                    quota.limit,
                    quota.reset_secs.max(1)
                ),
            )
        })?;
    let queued = match state
        .ports
        .runs
        .count_by_status(&agent.id, RunStatus::Queued)
        .await
    {
        Ok(n) => n,
        Err(e) => {
            state.limiter.refund(&agent.id, agent.rate_limit_per_min);
            return Err(ApiError::unavailable("run store", &e));
        }
    };
    if queued >= u64::from(agent.max_queued_runs) {
        state.limiter.refund(&agent.id, agent.rate_limit_per_min);
        let quota = Quota {
            reset_secs: quota.reset_secs.max(5),
            ..quota
        };
        return Err(limited(
            quota,
            "queue_full",
            format!(
                "this agent already has {queued} queued runs (the cap is {}); retry later",
                agent.max_queued_runs
            ),
        ));
    }
    Ok(quota)
}

fn quota_header_values(quota: Quota) -> [(HeaderName, u64); 3] {
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

fn quota_headers(headers: &mut HeaderMap, quota: Quota) {
    for (name, value) in quota_header_values(quota) {
        headers.insert(name, value.into());
    }
}

fn accepted(run_id: &RunId) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "run_id": run_id})),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/runs/{run_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
