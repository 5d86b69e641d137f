//! Replay (`docs/replay.md`): HTTP around `crewship_core::replay`. One run,
//! `POST /api/v1/runs/{runId}/replay`, answers like the trigger; the bulk form,
//! `POST /api/v1/agents/{agentId}/runs/replay`, reads a filter body under the trigger's body
//! limits and answers the new runs' ids.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::RunId;
use crewship_core::replay::bulk::{self, BulkError, FilterSpec};
use crewship_core::replay::{self, ReplayError};
use serde_json::{Value, json};

use super::{Caller, visible_agent};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonPath;
use crate::state::AppState;
use crate::trigger::body::read_limited;
use crate::trigger::{refused, run_accepted};

/// `POST /api/v1/runs/{runId}/replay`: `202` with the new run's id and `Location`, or the
/// trigger's `429`/`503`; another workspace's run is `404`, as for `GET`.
pub async fn replay_run(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Response> {
    let id: RunId = id.parse().map_err(|_| ApiError::not_found("no such run"))?;
    match replay::one(&state.ports, &state.limiter, &workspace, &id).await {
        Ok(done) => Ok(run_accepted("accepted", &done.run_id, Some(done.quota))),
        Err(e) => Err(replay_error(e)),
    }
}

fn replay_error(e: ReplayError) -> ApiError {
    match e {
        ReplayError::NotFound => ApiError::not_found("no such run"),
        ReplayError::AgentGone => ApiError::not_found(e.to_string()),
        ReplayError::PayloadMissing => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::PayloadMissing,
            e.to_string(),
        ),
        ReplayError::Refused(rejection) => refused(rejection),
    }
}

fn invalid_filter(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidFilter, message)
}

/// `POST /api/v1/agents/{agentId}/runs/replay` with `{status, event, since, until, cursor}`, all
/// optional (an empty body replays every run, newest first, 100 at most).
pub async fn replay_runs(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(agent): JsonPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let agent = visible_agent(&state, &workspace, &agent).await?;
    let bytes = read_limited(&headers, body, state.config.body_limit_bytes).await?;
    let spec = if bytes.iter().all(u8::is_ascii_whitespace) {
        FilterSpec::default()
    } else {
        crewship_core::json_depth::check(&bytes, state.config.max_json_depth).map_err(|e| {
            invalid_filter(format!(
                "the body nests deeper than {} levels (the server's max_json_depth)",
                e.limit
            ))
        })?;
        serde_json::from_slice::<FilterSpec>(&bytes).map_err(|e| {
            invalid_filter(format!(
                "the body must be a JSON object with any of status, event, since, until, \
                 cursor: {e}"
            ))
        })?
    };
    let selection = spec.validate().map_err(|e| invalid_filter(e.to_string()))?;
    let outcome = bulk::replay_matching(&state.ports, &state.limiter, &agent, &selection)
        .await
        .map_err(|e| match e {
            BulkError::BadCursor => invalid_filter(e.to_string()),
            BulkError::Refused(rejection) => refused(rejection),
        })?;
    let replayed: Vec<Value> = outcome
        .replayed
        .iter()
        .map(|r| json!({"run_id": r.run_id, "replay_of": r.replay_of}))
        .collect();
    let mut answer = json!({
        "replayed": replayed,
        "skipped": outcome.skipped,
        "more": outcome.more,
    });
    if let Some(cursor) = &outcome.cursor {
        answer["cursor"] = json!(cursor);
    }
    if let Some(stopped) = &outcome.stopped {
        tracing::warn!(agent_id = %agent.id, error = %stopped, "bulk replay stopped early");
        answer["stopped"] = json!({"error": stopped.code(), "message": stopped.to_string()});
    }
    let status = if outcome.replayed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(answer)).into_response())
}
