//! `POST /api/v1/agents/{agentId}/webhook-secret/rotate` with a bearer token of the agent's
//! workspace (another workspace's agent is `404`). The new secret is answered once; the old one
//! keeps verifying for the configured grace period (zero: it stops at once). A rotation during
//! a grace period ends the older secret's grace: only one previous secret is kept.
//!
//! The rotation is a read-modify-write on the registry, made safe by its compare-and-swap: of
//! two concurrent rotations, one wins, the other reads the winner's record and rotates again,
//! so every secret handed out was current at some instant and none is silently lost.

use axum::Json;
use axum::extract::State;
use crewship_core::agent::PreviousSecret;
use crewship_core::secret::Secret;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::CAS_ATTEMPTS;
use super::manage::conflict;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonPath;
use crate::monitor::{Caller, visible_agent};
use crate::state::AppState;

pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(workspace): Caller,
    JsonPath(agent): JsonPath<String>,
) -> ApiResult<Json<Value>> {
    let grace =
        time::Duration::try_from(state.config.secret_rotation_grace).unwrap_or(time::Duration::MAX);
    for _ in 0..CAS_ATTEMPTS {
        let current = visible_agent(&state, &workspace, &agent).await?;
        let now = state.ports.clock.now();
        let secret = Secret::generate();
        let mut rotated = current.clone();
        let valid_until = now.saturating_add(grace);
        rotated.previous_secret = match current.webhook_secret.clone() {
            Some(old) if !old.is_empty() && !grace.is_zero() => Some(PreviousSecret {
                secret: old,
                valid_until,
            }),
            _ => None,
        };
        rotated.webhook_secret = Some(secret.clone());
        let swapped = state
            .ports
            .agents
            .compare_and_swap(Some(&current), rotated.clone())
            .await
            .map_err(|e| ApiError::unavailable("agent registry", &e))?;
        if swapped {
            let previous_valid_until = rotated
                .previous_secret
                .as_ref()
                .map_or(now, |p| p.valid_until);
            tracing::info!(
                agent_id = %rotated.id,
                crew_id = %rotated.crew_id,
                previous_valid_until = %previous_valid_until,
                "webhook secret rotated"
            );
            return Ok(Json(json!({
                "webhook_secret": secret.expose(),
                "rotated_at": rfc3339(now),
                "previous_valid_until": rfc3339(previous_valid_until),
            })));
        }
    }
    Err(conflict())
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}
