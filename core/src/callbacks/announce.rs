//! A run reached its end: the one announcement every terminal transition makes (the trigger's
//! failed enqueue, the executor's finish and its lost-run sweep, a cancellation before the
//! start), so that none of them can tell the watchers and forget the callback, or the reverse.

use crate::broadcast::BroadcastEvent;
use crate::ports::Ports;
use crate::run::Run;

use super::entry::OutboxEntry;

/// Publishes `run.completed` / `run.failed` to the workspace's watchers, then, when the
/// run's agent has a callback that wants this outcome, writes the callback to the outbox,
/// due at once. Never fails the caller: the run's end is already written, and an outbox that
/// cannot be reached costs this one callback, which is logged.
///
/// The outbox write follows the run's terminal write instead of sharing its transaction: a
/// crash between the two loses the callback (`docs/callbacks.md`, Durability).
pub async fn finished(ports: &Ports, run: Run) {
    let entry = match ports.agents.get(&run.agent_id).await {
        Ok(agent) => agent.and_then(|agent| {
            let callback = agent.callback.as_ref()?;
            let event = callback.wants(run.status)?;
            Some(OutboxEntry::new(
                &run,
                &callback.url,
                event,
                ports.clock.now(),
            ))
        }),
        Err(e) => {
            tracing::warn!(error = %e, run_id = %run.id, "agent lookup failed; no callback for this run");
            None
        }
    };
    let workspace = run.workspace_id.clone();
    let run_id = run.id.clone();
    ports
        .broadcaster
        .publish(&workspace, BroadcastEvent::RunFinished(run));
    if let Some(entry) = entry {
        match ports.callbacks.enqueue(&entry).await {
            Ok(_) => tracing::debug!(run_id = %run_id, callback_id = %entry.id, "callback queued"),
            Err(e) => {
                tracing::warn!(error = %e, run_id = %run_id, "writing the callback failed; it is lost");
            }
        }
    }
}
