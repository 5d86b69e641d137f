//! The monitoring API (`docs/monitoring.md`) and replay (`docs/replay.md`): bearer tokens bound to one workspace; anything of
//! another workspace is `404`, exactly like something that does not exist.

mod logs;
mod replay;
mod runs;
mod tokens;

pub use logs::list_logs;
pub use replay::{replay_run, replay_runs};
pub use runs::{cancel_run, get_run, list_runs, run_callbacks};
pub use tokens::{Caller, TokenSet, bearer_workspace};

use crewship_core::agent::Agent;
use crewship_core::ids::{AgentId, WorkspaceId};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The agent, if it exists and belongs to the caller's workspace.
pub async fn visible_agent(
    state: &AppState,
    workspace: &WorkspaceId,
    agent: &str,
) -> ApiResult<Agent> {
    let not_found = || ApiError::not_found("no such agent");
    let id: AgentId = agent.parse().map_err(|_| not_found())?;
    state
        .ports
        .agents
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("agent registry", &e))?
        .filter(|a| &a.workspace_id == workspace)
        .ok_or_else(not_found)
}
