//! The executor: takes run ids off the queue and turns each into a finished run
//! (`docs/executor.md`).
//!
//! - [`Executor::process_next`] does one run, start to finish; [`Executor::run_until_stopped`]
//!   only loops over it, with the concurrency caps and graceful shutdown.
//! - `handle` is [`Executor::handle`], one delivery in the order of `docs/executor.md` as small
//!   named steps: load → claim → execute → finish.
//! - `execute` is the agent's part of it: resolve → ensure runtime → chat → start → stream,
//!   to the agent's end or its deadline.
//! - `decode` reads an agent's output lines into log entries, per CLI adapter.
//! - `worker` is the loop: concurrency slots, the sweep, graceful shutdown.
//! - `sweep` is [`Executor::sweep`], shared by that loop and the scheduled Lambda sweep:
//!   lost RUNNING runs are finished, QUEUED runs whose message may never have been sent get one.
//! - [`lifecycle`] claims, renews and finishes runs, each by a conditional write.
//! - [`output`] writes log entries and live frames with per-run sequence numbers.
//! - [`cli`] builds command lines per CLI adapter.
//! - [`claude_stream`] reads claude-code's stream-json output into log events.
//! - [`runtime`] holds the container runtime adapters (local processes, Keeper over HTTP) and
//!   [`runtime::RuntimeBackend`], which picks one from the settings.
//! - [`keeper`] holds the Keeper protocol types and server (docs/keeper.md).
//! - [`config`] holds the settings, taken from the `[executor]` section of the one settings model.
//! - [`callbacks`] is the completion callbacks' delivery worker, a loop of its own beside the
//!   executor's (never on a run's path), with the SSRF guard.

pub mod callbacks;
pub mod claude_stream;
pub mod cli;
pub mod config;
mod decode;
mod execute;
mod handle;
pub mod keeper;
pub mod lifecycle;
pub mod output;
pub mod runtime;
mod sweep;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use crewship_core::ids::RunId;
use crewship_core::ports::Ports;
use crewship_core::queue::{Delivery, QueueError};
use crewship_core::run::{Run, RunStatus};
use crewship_core::runtime::ContainerRuntime;
use crewship_core::store::StoreError;
use tokio_util::sync::CancellationToken;

pub use config::ExecutorConfig;
pub use execute::Stops;
pub use handle::PAYLOAD_MISSING;
pub use lifecycle::Ending;
pub use sweep::Swept;

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No message arrived within the poll wait.
    Idle,
    /// The run was executed and is now in `status`.
    Finished { run_id: RunId, status: RunStatus },
    /// The message was acknowledged without running anything (already claimed or finished,
    /// unknown run).
    Skipped { run_id: RunId, reason: &'static str },
    /// The run's executor had died: it was finished FAILED `executor lost`.
    Lost { run_id: RunId },
    /// A concurrency cap was reached: the message goes back to the queue for later.
    Deferred { run_id: RunId },
}

pub const EXECUTOR_LOST: &str = "executor lost";

pub struct Executor {
    pub ports: Ports,
    pub runtime: Arc<dyn ContainerRuntime>,
    pub config: ExecutorConfig,
}

impl Executor {
    pub fn new(ports: Ports, runtime: Arc<dyn ContainerRuntime>, config: ExecutorConfig) -> Self {
        Self {
            ports,
            runtime,
            config,
        }
    }

    /// Takes one message and handles it to the end.
    pub async fn process_next(&self) -> Result<Outcome, ExecutorError> {
        let mut deliveries = self.ports.queue.receive(1, self.config.poll_wait).await?;
        match deliveries.pop() {
            None => Ok(Outcome::Idle),
            Some(delivery) => self.handle(delivery, CancellationToken::new()).await,
        }
    }

    /// Handles messages until the queue has been idle for one poll wait.
    pub async fn drain(&self) -> Result<Vec<Outcome>, ExecutorError> {
        let mut outcomes = Vec::new();
        loop {
            match self.process_next().await? {
                Outcome::Idle => return Ok(outcomes),
                outcome => outcomes.push(outcome),
            }
        }
    }

    fn lease_expired(&self, run: &Run) -> bool {
        let now = self.ports.clock.now();
        run.lease.as_ref().is_none_or(|l| l.expires_at < now)
    }

    /// Finishes a RUNNING run FAILED `executor lost`, unless its lease was renewed meanwhile
    /// (its executor was only slow). Returns whether it did.
    async fn finish_lost(&self, id: &RunId) -> Result<bool, ExecutorError> {
        let (run, finished) = lifecycle::finish_if(
            &self.ports,
            id,
            Ending::failed(EXECUTOR_LOST),
            self.config.final_write_timeout,
            |run| run.status == RunStatus::Running && self.lease_expired(run),
        )
        .await?;
        if finished {
            tracing::warn!(run_id = %id, "run of a lost executor finished");
            crewship_core::callbacks::announce::finished(&self.ports, run).await;
        }
        Ok(finished)
    }

    async fn ack(&self, delivery: &Delivery) {
        if let Err(e) = self.ports.queue.ack(&delivery.receipt).await {
            tracing::warn!(error = %e, run_id = %delivery.run_id, "ack failed; the message may be redelivered");
        }
    }

    /// How long a run over a cap waits before it is offered again: a quarter of the time it
    /// has already waited, between `defer` and `defer_max`. A run behind a short one starts
    /// soon; one behind a long one is looked at less and less often, never more than a
    /// quarter later than it could have started.
    fn defer_delay(&self, run: &Run) -> Duration {
        let waited =
            Duration::try_from(self.ports.clock.now() - run.created_at).unwrap_or_default();
        (waited / 4).clamp(
            self.config.defer,
            self.config.defer_max.max(self.config.defer),
        )
    }

    /// Gives a message back for later: hidden for `delay` (SQS `ChangeMessageVisibility`).
    /// Every receive counts towards the queue's dead-letter threshold (`max_receives`), and a
    /// run that is only waiting must never reach it: one receive before the threshold, the
    /// message is replaced by a fresh, delayed copy (receive count 0), sent before the
    /// original is deleted so that the run is never without a message.
    async fn defer(&self, delivery: &Delivery, delay: Duration) {
        if delivery.receive_count.saturating_add(1) >= self.config.max_receives {
            match self.ports.queue.send_delayed(&delivery.run_id, delay).await {
                Ok(()) => return self.ack(delivery).await,
                Err(e) => {
                    tracing::warn!(error = %e, run_id = %delivery.run_id, "re-queueing a deferred run failed");
                }
            }
        }
        if let Err(e) = self.ports.queue.extend(&delivery.receipt, delay).await {
            tracing::warn!(error = %e, run_id = %delivery.run_id, "deferring failed");
        }
    }
}
