//! The management API behind `X-Internal-Token` (checked first, `403` otherwise): create or
//! replace, read, list and delete agents. Bodies are read under a size limit and validated by
//! the same [`AgentSpec::validate`] as the local runner's configuration file.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use crewship_core::agent::Agent;
use crewship_core::agent_spec::AgentSpec;
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::AgentId;
use crewship_core::registry::AgentScope;
use crewship_core::secret::Secret;
use serde::Deserialize;
use serde_json::Value;

use super::view::agent_view;
use super::{BODY_LIMIT_BYTES, CAS_ATTEMPTS};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonPath, JsonQuery};
use crate::internal::InternalCaller;
use crate::state::AppState;
use crate::trigger::body::read_limited;

fn registry_error(e: crewship_core::registry::RegistryError) -> ApiError {
    ApiError::unavailable("agent registry", &e)
}

fn invalid_agent(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidAgent, message)
}

pub(super) fn conflict() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        "the agent kept changing while this request was applied; retry",
    )
}

/// `PUT /api/v1/internal/agents/{agentId}`: `201` when created, `200` when replaced. A secret
/// in the body is used (at once, without a grace period for the old one); without one, a new
/// agent gets a generated secret, shown in this answer only, and a replaced agent keeps its
/// secret and any rotation grace period in progress.
pub async fn put_agent(
    _: InternalCaller,
    State(state): State<AppState>,
    JsonPath(id): JsonPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_limited(&headers, body, BODY_LIMIT_BYTES).await?;
    crewship_core::json_depth::check(&bytes, state.config.max_json_depth)
        .map_err(|e| invalid_agent(format!("the body is not a valid agent: {e}")))?;
    let spec: AgentSpec = serde_json::from_slice(&bytes)
        .map_err(|e| invalid_agent(format!("the body is not a valid agent: {e}")))?;
    let desired = spec
        .validate(&id, state.config.run_timeout.as_secs())
        .map_err(|e| invalid_agent(e.to_string()))?;
    for _ in 0..CAS_ATTEMPTS {
        let existing = state
            .ports
            .agents
            .get(&desired.id)
            .await
            .map_err(registry_error)?;
        if let Some(existing) = &existing
            && existing.workspace_id != desired.workspace_id
        {
            // Moving would hand workspace B the runs, logs and (through the kept secret) the
            // deliveries of workspace A's agent.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AgentInOtherWorkspace,
                format!(
                    "agent {} is registered in another workspace; agents never move between \
                     workspaces (delete it there first)",
                    desired.id
                ),
            ));
        }
        let (agent, generated) = merge(desired.clone(), existing.as_ref());
        if state
            .ports
            .agents
            .compare_and_swap(existing.as_ref(), agent.clone())
            .await
            .map_err(registry_error)?
        {
            let created = existing.is_none();
            tracing::info!(
                agent_id = %agent.id,
                crew_id = %agent.crew_id,
                workspace_id = %agent.workspace_id,
                created,
                secret_generated = generated,
                "agent registered"
            );
            let mut view = agent_view(&agent, state.ports.clock.now());
            if generated && let Some(secret) = &agent.webhook_secret {
                // The one time a generated secret is shown.
                view["webhook_secret"] = Value::String(secret.expose().to_owned());
            }
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            return Ok((status, Json(view)).into_response());
        }
    }
    Err(conflict())
}

/// The agent to write over `existing`, and whether its secret was generated now.
fn merge(mut desired: Agent, existing: Option<&Agent>) -> (Agent, bool) {
    if desired.webhook_secret.is_none()
        && let Some(existing) = existing
    {
        desired.webhook_secret = existing.webhook_secret.clone();
        desired.previous_secret = existing.previous_secret.clone();
    }
    // A source restated with its secret unchanged keeps a grace period in progress.
    if let Some(existing) = existing {
        for source in &mut desired.sources {
            source.previous = existing
                .sources
                .iter()
                .find(|e| e.kind == source.kind && e.secret == source.secret)
                .and_then(|e| e.previous.clone());
        }
    }
    let generated = desired.webhook_secret.as_ref().is_none_or(Secret::is_empty);
    if generated {
        desired.webhook_secret = Some(Secret::generate());
    }
    (desired, generated)
}

async fn existing_agent(state: &AppState, id: &str) -> ApiResult<Agent> {
    let not_found = || ApiError::not_found("no such agent");
    let id: AgentId = id.parse().map_err(|_| not_found())?;
    state
        .ports
        .agents
        .get(&id)
        .await
        .map_err(registry_error)?
        .ok_or_else(not_found)
}

/// `GET /api/v1/internal/agents/{agentId}`.
pub async fn get_agent(
    _: InternalCaller,
    State(state): State<AppState>,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<Json<Value>> {
    let agent = existing_agent(&state, &id).await?;
    Ok(Json(agent_view(&agent, state.ports.clock.now())))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    crew_id: Option<String>,
    workspace_id: Option<String>,
}

/// `GET /api/v1/internal/agents?crew_id=` or `?workspace_id=` (exactly one): agents by id.
pub async fn list_agents(
    _: InternalCaller,
    State(state): State<AppState>,
    JsonQuery(params): JsonQuery<ListParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let invalid = |m: String| ApiError::bad_request(ErrorCode::InvalidQuery, m);
    let scope = match (params.crew_id, params.workspace_id) {
        (Some(crew), None) => {
            AgentScope::Crew(crew.parse().map_err(|e| invalid(format!("crew_id: {e}")))?)
        }
        (None, Some(ws)) => AgentScope::Workspace(
            ws.parse()
                .map_err(|e| invalid(format!("workspace_id: {e}")))?,
        ),
        _ => {
            return Err(invalid(
                "give exactly one of crew_id and workspace_id".into(),
            ));
        }
    };
    let agents = state
        .ports
        .agents
        .list(&scope)
        .await
        .map_err(registry_error)?;
    let now = state.ports.clock.now();
    Ok(Json(agents.iter().map(|a| agent_view(a, now)).collect()))
}

/// `DELETE /api/v1/internal/agents/{agentId}`: `204`, or `404` when there was none. Its
/// webhooks then answer `401` like any unknown agent's.
pub async fn delete_agent(
    _: InternalCaller,
    State(state): State<AppState>,
    JsonPath(id): JsonPath<String>,
) -> ApiResult<StatusCode> {
    let not_found = || ApiError::not_found("no such agent");
    let id: AgentId = id.parse().map_err(|_| not_found())?;
    if state
        .ports
        .agents
        .delete(&id)
        .await
        .map_err(registry_error)?
    {
        tracing::info!(agent_id = %id, "agent deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
