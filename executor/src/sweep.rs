//! The sweep: what no delivery would ever fix. It runs in every long-running executor's loop
//! (every lease) and, in the cloud, on a schedule in the executor function
//! (`docs/executor.md`, Sweep). Both call [`Executor::sweep`].
//!
//! - A RUNNING run whose lease expired lost its executor: it is finished FAILED
//!   `executor lost`.
//! - A QUEUED run may have no queue message: its creator may have died between writing the
//!   run and sending the message. As each QUEUED run reaches `requeue_after` of age, it is
//!   sent one fresh message. Runs are looked at in a window of two sweep intervals, so a run
//!   gets at most two extra messages from each sweeper, never one per sweep: an extra message is
//!   harmless (a delivery of a run that is no longer QUEUED is acknowledged and skipped), and
//!   a message lost later is in the dead-letter queue (docs/aws.md, runbook).

use std::time::Duration;

use crate::{Executor, ExecutorError};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// RUNNING runs finished `executor lost`.
    pub lost: usize,
    /// QUEUED runs given a fresh queue message.
    pub requeued: usize,
}

impl Executor {
    /// One sweep, for a caller that sweeps every `every`. Both parts run even when the other
    /// fails; the first error is returned.
    pub async fn sweep(&self, every: Duration) -> Result<Swept, ExecutorError> {
        let lost = self.sweep_lost().await;
        let requeued = self.requeue_stale(every).await;
        let swept = Swept {
            lost: *lost.as_ref().unwrap_or(&0),
            requeued: *requeued.as_ref().unwrap_or(&0),
        };
        if swept != Swept::default() {
            tracing::info!(lost = swept.lost, requeued = swept.requeued, "sweep");
        }
        lost?;
        requeued?;
        Ok(swept)
    }

    /// Finishes every RUNNING run whose lease expired. Returns how many.
    pub async fn sweep_lost(&self) -> Result<usize, ExecutorError> {
        let expired = self
            .ports
            .runs
            .expired_leases(self.ports.clock.now())
            .await?;
        let mut finished = 0;
        for run in &expired {
            if self.finish_lost(&run.id).await? {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Sends a fresh message for each QUEUED run that turned `requeue_after` old within the
    /// last two sweep intervals. Returns how many.
    async fn requeue_stale(&self, every: Duration) -> Result<usize, ExecutorError> {
        let to = self.ports.clock.now() - self.config.requeue_after;
        let from = to - every * 2;
        let stale = self.ports.runs.queued_created_between(from, to).await?;
        for run in &stale {
            tracing::warn!(run_id = %run.id, "run still QUEUED; sending it a fresh queue message");
            self.ports.queue.send(&run.id).await?;
        }
        Ok(stale.len())
    }
}
