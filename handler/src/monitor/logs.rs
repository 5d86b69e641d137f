//! `GET /api/v1/agents/{agentId}/logs` (SPEC §5.2).

use axum::Json;
use axum::extract::State;
use crewship_core::ids::RunId;
use crewship_core::log::LogEntry;
use crewship_core::logs::LogQuery;
use serde::Deserialize;

use super::runs::parse_limit;
use super::{Caller, visible_agent};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonPath, JsonQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct LogParams {
    run_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

pub async fn list_logs(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(agent): JsonPath<String>,
    JsonQuery(params): JsonQuery<LogParams>,
) -> ApiResult<Json<Vec<LogEntry>>> {
    let agent = visible_agent(&state, &workspace, &agent).await?;
    let limit = parse_limit(params.limit.as_deref(), 100, 1000)?;
    let run = match params.run_id.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(r.parse::<RunId>().map_err(|_| {
            ApiError::bad_request("invalid_parameter", "`run_id` is not a valid run id")
        })?),
    };
    let after = match params.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(_) if run.is_none() => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "`after` is a sequence number within one run: it needs `run_id`",
            ));
        }
        Some(a) => Some(a.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_parameter",
                "`after` must be a non-negative integer",
            )
        })?),
    };
    let query = LogQuery {
        agent: agent.id,
        run,
        after,
        limit,
    };
    let entries = state
        .ports
        .logs
        .query(&query)
        .await
        .map_err(|e| ApiError::unavailable("log store", &e))?;
    Ok(Json(entries))
}
