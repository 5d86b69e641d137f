//! `GET /api/v1/agents` with a monitoring token: the agents of the token's workspace, by id, as
//! [`agent_view`] shows them (never a secret, nor an `env` value). What the dashboard needs to
//! list a workspace's runs and show each agent's webhook URL; no other workspace is reachable.

use axum::Json;
use axum::extract::State;
use crewship_core::registry::AgentScope;
use serde_json::Value;

use super::view::agent_view;
use crate::error::{ApiError, ApiResult};
use crate::monitor::Caller;
use crate::state::AppState;

pub async fn workspace_agents(
    State(state): State<AppState>,
    Caller(workspace): Caller,
) -> ApiResult<Json<Vec<Value>>> {
    let agents = state
        .ports
        .agents
        .list(&AgentScope::Workspace(workspace))
        .await
        .map_err(|e| ApiError::unavailable("agent registry", &e))?;
    let now = state.ports.clock.now();
    Ok(Json(agents.iter().map(|a| agent_view(a, now)).collect()))
}
