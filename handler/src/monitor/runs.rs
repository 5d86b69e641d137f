//! Runs: one, a page of an agent's, a run's callbacks, and cancellation.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crewship_core::callbacks::{OutboxEntry, announce};
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::{RunId, WorkspaceId};
use crewship_core::run::{Run, RunStatus, TriggerType};
use crewship_core::store::{RunFilter, StoreError};
use serde::Deserialize;

use super::{Caller, visible_agent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonPath, JsonQuery};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 50;

const MAX_LIMIT: usize = 100;

async fn visible_run(state: &AppState, workspace: &WorkspaceId, id: &str) -> ApiResult<Run> {
    let not_found = || ApiError::not_found("no such run");
    let id: RunId = id.parse().map_err(|_| not_found())?;
    state
        .ports
        .runs
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("run store", &e))?
        .filter(|r| &r.workspace_id == workspace)
        .ok_or_else(not_found)
}

pub async fn get_run(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Run>> {
    visible_run(&state, &workspace, &id).await.map(Json)
}

/// `docs/callbacks.md`, The endpoint: the run's callbacks (none or one) with every attempt.
pub async fn run_callbacks(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Vec<OutboxEntry>>> {
    let run = visible_run(&state, &workspace, &id).await?;
    state
        .ports
        .callbacks
        .of_run(&run.id)
        .await
        .map(Json)
        .map_err(|e| ApiError::unavailable("callback outbox", &e))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    trigger: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list_runs(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(agent): JsonPath<String>,
    params: Result<JsonQuery<ListParams>, ApiError>,
) -> ApiResult<Response> {
    let agent = visible_agent(&state, &workspace, &agent).await?;
    let JsonQuery(params) = params?;
    let limit = parse_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = RunFilter {
        trigger: match params.trigger.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(t) if TriggerType::parse(t).is_some() => TriggerType::parse(t),
            // Another trigger type of the platform (`USER`, `SCHEDULE`, …): this service never
            // records one, so the filter is valid and matches nothing.
            Some(t) if is_trigger_type(t) => return Ok(Json(Vec::<Run>::new()).into_response()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidParameter,
                    "`trigger` must be a trigger type such as WEBHOOK: 1 to 32 of [A-Z_]",
                ));
            }
        },
        status: match params.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidParameter,
                    "`status` must be one of QUEUED, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, FILTERED",
                )
            })?),
        },
    };
    let cursor = params.cursor.as_deref().filter(|c| !c.is_empty());
    let page = state
        .ports
        .runs
        .list_by_agent(&agent.id, &filter, limit, cursor)
        .await
        .map_err(|e| match e {
            StoreError::BadCursor => ApiError::bad_request(
                ErrorCode::InvalidParameter,
                "`cursor` is not a valid cursor",
            ),
            e => ApiError::unavailable("run store", &e),
        })?;
    // An agent id deleted in one workspace and registered again in another starts with no
    // history: runs recorded under the old workspace stay invisible.
    let items: Vec<Run> = page
        .items
        .into_iter()
        .filter(|r| r.workspace_id == workspace)
        .collect();
    let mut response = Json(items).into_response();
    if let Some(next) = page.next {
        let mut query = format!("limit={limit}&cursor={}", query_escape(&next));
        if let Some(t) = filter.trigger {
            query.push_str(&format!("&trigger={}", t.as_str()));
        }
        if let Some(s) = filter.status {
            query.push_str(&format!("&status={s}"));
        }
        let link = format!("</api/v1/agents/{}/runs?{query}>; rel=\"next\"", agent.id);
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// A well-formed trigger type: `SCREAMING_SNAKE_CASE`, as the platform spells them.
fn is_trigger_type(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.starts_with(|c: char| c.is_ascii_uppercase())
        && t.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// Percent-encodes all but RFC 3986's unreserved characters, so that any store's cursor
/// (base64 included) survives the round trip through the `Link` header.
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `limit` as an integer in `1..=max`, `default` when absent.
pub fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> ApiResult<usize> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidParameter,
                    format!("`limit` must be an integer from 1 to {max}"),
                )
            }),
    }
}

/// `docs/executor.md`, Cancellation: a QUEUED run is CANCELLED at once (`200`); a RUNNING run is
/// marked for cancellation, its executor stops the process tree and finishes it (`202`); a finished
/// run is `409`. Lost races re-read and decide again.
pub async fn cancel_run(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Response> {
    for _ in 0..5 {
        let mut run = visible_run(&state, &workspace, &id).await?;
        let prev = run.status;
        let status = match prev {
            RunStatus::Queued => {
                run.finish(
                    RunStatus::Cancelled,
                    None,
                    Some("cancelled before it started".into()),
                    state.ports.clock.now(),
                );
                StatusCode::OK
            }
            RunStatus::Running if run.cancel_requested => StatusCode::ACCEPTED,
            RunStatus::Running => {
                run.cancel_requested = true;
                StatusCode::ACCEPTED
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::RunFinished,
                    format!("the run already finished as {prev}"),
                ));
            }
        };
        match state.ports.runs.update(&mut run, prev).await {
            Ok(()) => {
                if run.status.is_terminal() {
                    // Cancelled before it started: no executor will announce it.
                    announce::finished(&state.ports, run.clone()).await;
                }
                return Ok((status, Json(run)).into_response());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(ApiError::unavailable("run store", &e)),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        "the run kept changing while it was being cancelled; retry",
    ))
}

#[cfg(test)]
mod tests {
    use super::query_escape;

    #[test]
    fn cursors_are_escaped_for_the_link_header() {
        assert_eq!(query_escape("run_01ab-Z.~"), "run_01ab-Z.~");
        assert_eq!(query_escape("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(query_escape("x y>;"), "x%20y%3E%3B");
    }
}
