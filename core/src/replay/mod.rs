//! Replay (`docs/replay.md`): a new run made from an earlier one's payload, event, source and
//! auth scheme, `trigger_type` `REPLAY` and `replay_of` the earlier run. It is an explicit
//! action, so it bypasses deduplication and the agent's event filter, but it obeys the agent's
//! rate limit and queued cap with the trigger's own refusals, and goes through the same intake
//! (the run and its queue message together).
//!
//! - [`bulk`]: replaying an agent's runs that match a filter, at most 100 per call.

pub mod bulk;

use crate::agent::Agent;
use crate::ids::{RunId, WorkspaceId};
use crate::ingest::{self, Quota, RateLimiter, Rejection};
use crate::ports::Ports;
use crate::run::{NewRun, Run, TriggerType};

/// Why a run was not replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No such run in the caller's workspace.
    #[error("no such run")]
    NotFound,
    /// The run's agent was deleted (or its id now belongs to another workspace).
    #[error("the agent of this run no longer exists")]
    AgentGone,
    /// The stored payload is gone (`payload_missing`): there is nothing to replay.
    #[error(
        "the run's payload is no longer stored (payload_missing), so it cannot be replayed; \
         ask the sender to deliver it again"
    )]
    PayloadMissing,
    /// The trigger's own refusals: rate limit, queued cap, an unavailable store or queue.
    #[error(transparent)]
    Refused(#[from] Rejection),
}

/// A replay that was recorded and queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub run_id: RunId,
    pub replay_of: RunId,
    /// Feeds the `RateLimit-*` headers, as for the trigger.
    pub quota: Quota,
}

/// `POST /api/v1/runs/{runId}/replay`: replays run `id` of `workspace`.
pub async fn one(
    ports: &Ports,
    limiter: &RateLimiter,
    workspace: &WorkspaceId,
    id: &RunId,
) -> Result<Replayed, ReplayError> {
    let original = ports
        .runs
        .get(id)
        .await
        .map_err(|e| Rejection::unavailable("run store", e))?
        .filter(|r| &r.workspace_id == workspace)
        .ok_or(ReplayError::NotFound)?;
    let agent = ports
        .agents
        .get(&original.agent_id)
        .await
        .map_err(|e| Rejection::unavailable("agent registry", e))?
        .filter(|a| a.workspace_id == original.workspace_id)
        .ok_or(ReplayError::AgentGone)?;
    replay(ports, limiter, &agent, &original).await
}

/// Records and queues the replay of `original`, an earlier run of `agent`.
pub(crate) async fn replay(
    ports: &Ports,
    limiter: &RateLimiter,
    agent: &Agent,
    original: &Run,
) -> Result<Replayed, ReplayError> {
    if original.payload_missing {
        return Err(ReplayError::PayloadMissing);
    }
    let new = NewRun {
        id: RunId::generate(),
        event: original.event.clone(),
        source: original.source.clone(),
        auth_scheme: original.auth_scheme,
        // A replay is no delivery of the sender's: it reserves no dedup key either.
        delivery_id: None,
        payload: original.payload.clone(),
    };
    let mut run = Run::queued(agent, new, ports.clock.now());
    run.trigger_type = TriggerType::Replay;
    run.replay_of = Some(original.id.clone());
    let (run_id, quota) = ingest::admit_and_record(ports, limiter, agent, run).await?;
    tracing::info!(
        agent_id = %agent.id,
        run_id = %run_id,
        replay_of = %original.id,
        "run replayed"
    );
    Ok(Replayed {
        run_id,
        replay_of: original.id.clone(),
        quota,
    })
}
