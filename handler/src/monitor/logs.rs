//! `GET /api/v1/agents/{agentId}/logs` (`docs/monitoring.md`, Logs).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::{RunId, WorkspaceId};
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
    params: Result<JsonQuery<LogParams>, ApiError>,
) -> ApiResult<Json<Vec<LogEntry>>> {
    let agent = visible_agent(&state, &workspace, &agent).await?;
    let JsonQuery(params) = params?;
    let limit = parse_limit(params.limit.as_deref(), 100, 1000)?;
    let run = match params.run_id.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            r.parse::<RunId>()
                .map_err(|_| ApiError::not_found("no such run for this agent"))?,
        ),
    };
    let after = match params.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(_) if run.is_none() => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidParameter,
                "`after` is a sequence number within one run: it needs `run_id`",
            ));
        }
        Some(a) => Some(a.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidParameter,
                "`after` must be a non-negative integer",
            )
        })?),
    };
    // A run of another agent (or workspace) is as absent here as anywhere else.
    if let Some(run) = &run {
        let owned = state
            .ports
            .runs
            .get(run)
            .await
            .map_err(|e| ApiError::unavailable("run store", &e))?
            .is_some_and(|r| r.agent_id == agent.id && r.workspace_id == workspace);
        if !owned {
            return Err(ApiError::not_found("no such run for this agent"));
        }
    }
    let one_run = run.is_some();
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
    if one_run {
        return Ok(Json(entries));
    }
    Ok(Json(in_workspace(&state, &workspace, entries).await?))
}

/// The entries whose runs belong to `workspace`. An agent id deleted in one workspace and
/// registered again in another starts with no history. One lookup per distinct run.
async fn in_workspace(
    state: &AppState,
    workspace: &WorkspaceId,
    entries: Vec<LogEntry>,
) -> ApiResult<Vec<LogEntry>> {
    let mut visible: HashMap<RunId, bool> = HashMap::new();
    let mut kept = Vec::with_capacity(entries.len());
    for entry in entries {
        let ours = match visible.get(&entry.run_id) {
            Some(ours) => *ours,
            None => {
                let ours = state
                    .ports
                    .runs
                    .get(&entry.run_id)
                    .await
                    .map_err(|e| ApiError::unavailable("run store", &e))?
                    .is_some_and(|r| &r.workspace_id == workspace);
                visible.insert(entry.run_id.clone(), ours);
                ours
            }
        };
        if ours {
            kept.push(entry);
        }
    }
    Ok(kept)
}
