//! The internal API (`docs/monitoring.md`, Internal API), for trusted callers holding the internal
//! token.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::AgentId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonPath, JsonQuery};
use crate::state::AppState;

/// Checks `X-Internal-Token` in constant time; `403` when missing or wrong.
pub fn require_internal_token(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let presented = headers
        .get("x-internal-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let ok = state
        .config
        .internal_token
        .as_ref()
        .is_some_and(|t| t.matches(presented));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "a valid X-Internal-Token is required",
        ))
    }
}

/// A caller holding the internal token. Taken as a handler's first argument, it is checked
/// before the path, the query and the body are parsed: without the token, nothing about the
/// request is answered but `403`.
#[derive(Debug, Clone, Copy)]
pub struct InternalCaller;

impl FromRequestParts<AppState> for InternalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        require_internal_token(state, &parts.headers).map(|()| Self)
    }
}

#[derive(Debug, Deserialize)]
pub struct SecretParams {
    crew_id: Option<String>,
}

/// `GET /api/v1/internal/agents/{agentId}/webhook-secret[?crew_id=]`.
pub async fn webhook_secret(
    _: InternalCaller,
    State(state): State<AppState>,
    JsonPath(agent): JsonPath<String>,
    JsonQuery(params): JsonQuery<SecretParams>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found("no webhook secret for that agent");
    let id: AgentId = agent.parse().map_err(|_| not_found())?;
    let agent = state
        .ports
        .agents
        .get(&id)
        .await
        .map_err(|e| ApiError::unavailable("agent registry", &e))?
        .filter(|a| {
            params
                .crew_id
                .as_deref()
                .filter(|crew| !crew.is_empty())
                .is_none_or(|crew| a.crew_id.as_str() == crew)
        })
        .ok_or_else(not_found)?;
    let secret = agent
        .webhook_secret
        .filter(|s| !s.is_empty())
        .ok_or_else(not_found)?;
    Ok(Json(json!({"webhook_secret": secret.expose()})))
}
