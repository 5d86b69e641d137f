//! `PUT /api/v1/agents/{agentId}/sources/{index}/secret` with a bearer token of the agent's
//! workspace and `{"secret": "…"}`: the source at `index` (0-based, as the agent view lists
//! them) gets the new secret, and its old one keeps verifying for the configured grace period,
//! as the agent's own secret does after a rotation. A source's secret is issued by its sender
//! (Stripe's "roll secret", Slack's "regenerate"), so it is given here, never generated, and
//! never answered back: the answer shows its fingerprint.
//!
//! The same compare-and-swap as the webhook-secret rotation (`rotate`): of two concurrent
//! changes, one wins, the other reads the winner's record and applies itself on top.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use crewship_core::agent::PreviousSecret;
use crewship_core::error_code::ErrorCode;
use crewship_core::secret::Secret;
use crewship_core::sources;
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::CAS_ATTEMPTS;
use super::manage::conflict;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonPath;
use crate::monitor::{Caller, visible_agent};
use crate::state::AppState;
use crate::trigger::body::read_limited;

/// The body: one secret, a few hundred bytes at most.
const BODY_LIMIT_BYTES: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSecret {
    secret: Secret,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidAgent, message)
}

pub async fn set_source_secret(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath((agent, index)): JsonPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let bytes = read_limited(&headers, body, BODY_LIMIT_BYTES).await?;
    let NewSecret { secret } = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("the body is not {{\"secret\": \"…\"}}: {e}")))?;
    let grace =
        time::Duration::try_from(state.config.secret_rotation_grace).unwrap_or(time::Duration::MAX);
    for _ in 0..CAS_ATTEMPTS {
        let current = visible_agent(&state, &workspace, &agent).await?;
        let slot = index
            .parse::<usize>()
            .ok()
            .filter(|i| *i < current.sources.len())
            .ok_or_else(|| ApiError::not_found("the agent has no source at that index"))?;
        let now = state.ports.clock.now();
        let mut changed = current.clone();
        let source = &mut changed.sources[slot];
        let old = std::mem::replace(&mut source.secret, secret.clone());
        source.previous = (!grace.is_zero() && old != secret).then(|| PreviousSecret {
            secret: old,
            valid_until: now.saturating_add(grace),
        });
        sources::validate(&changed.sources).map_err(|e| invalid(e.to_string()))?;
        let swapped = state
            .ports
            .agents
            .compare_and_swap(Some(&current), changed.clone())
            .await
            .map_err(|e| ApiError::unavailable("agent registry", &e))?;
        if swapped {
            let source = &changed.sources[slot];
            let previous_valid_until = source.previous.as_ref().map_or(now, |p| p.valid_until);
            tracing::info!(
                agent_id = %changed.id,
                source = source.kind.as_str(),
                previous_valid_until = %previous_valid_until,
                "source secret replaced"
            );
            return Ok(Json(json!({
                "kind": source.kind,
                "secret_fingerprint": source.fingerprint(),
                "rotated_at": now.format(&Rfc3339).unwrap_or_default(),
                "previous_valid_until": previous_valid_until.format(&Rfc3339).unwrap_or_default(),
            })));
        }
    }
    Err(conflict())
}
