//! One delivery, start to finish, in the order of `docs/executor.md`: load → claim → (resolve →
//! ensure runtime → chat → start → stream, in `execute`) → finish. Each step is a method that
//! either hands its result on or ends the delivery with an [`Outcome`], its message already
//! acknowledged or deferred.

use crewship_core::agent::Agent;
use crewship_core::broadcast::BroadcastEvent;
use crewship_core::callbacks::announce;
use crewship_core::queue::Delivery;
use crewship_core::run::{Run, RunStatus};
use crewship_core::store::StoreError;
use tokio_util::sync::CancellationToken;

use crate::execute::Stops;
use crate::lifecycle::{self, Claim, Ending};
use crate::{Executor, ExecutorError, Outcome};

/// The error of a run whose stored payload could not be found.
pub const PAYLOAD_MISSING: &str = "payload missing";

/// Why a step did not hand a result on.
enum Early {
    /// The delivery is done: acknowledged or deferred, nothing more to do.
    Done(Outcome),
    /// A port failed; the message will be redelivered.
    Failed(ExecutorError),
}

impl From<ExecutorError> for Early {
    fn from(e: ExecutorError) -> Self {
        Self::Failed(e)
    }
}

impl From<StoreError> for Early {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl Executor {
    /// One delivery: skip, finish as lost, defer, or claim and execute. `shutdown` stops the
    /// agent early (graceful shutdown's grace period ran out).
    #[tracing::instrument(skip_all, fields(run_id = %delivery.run_id))]
    pub async fn handle(
        &self,
        delivery: Delivery,
        shutdown: CancellationToken,
    ) -> Result<Outcome, ExecutorError> {
        match self.try_handle(&delivery, shutdown).await {
            Ok(outcome) | Err(Early::Done(outcome)) => Ok(outcome),
            Err(Early::Failed(e)) => Err(e),
        }
    }

    async fn try_handle(
        &self,
        delivery: &Delivery,
        shutdown: CancellationToken,
    ) -> Result<Outcome, Early> {
        let run = self.load(delivery).await?;
        let (run, agent) = self.claim(delivery, run).await?;
        let ending = self
            .run_agent(delivery, &run, agent.as_ref(), shutdown)
            .await;
        self.finish(delivery, ending).await
    }

    /// The run, if it is QUEUED. A redelivered message never runs an agent twice; a RUNNING
    /// run whose lease expired is finished as lost.
    async fn load(&self, delivery: &Delivery) -> Result<Run, Early> {
        let run_id = delivery.run_id.clone();
        let Some(run) = self.ports.runs.get(&run_id).await? else {
            return Err(self.skip(delivery, "unknown run").await);
        };
        match run.status {
            // Its payload object is gone: running the agent without it would be a lie.
            RunStatus::Queued if run.payload_missing => Err(Early::Done(
                self.finish(delivery, Ending::failed(PAYLOAD_MISSING))
                    .await?,
            )),
            RunStatus::Queued => Ok(run),
            RunStatus::Running if self.lease_expired(&run) && self.finish_lost(&run_id).await? => {
                self.ack(delivery).await;
                Err(Early::Done(Outcome::Lost { run_id }))
            }
            _ => Err(self.skip(delivery, "not queued").await),
        }
    }

    /// QUEUED → RUNNING, within the agent's concurrency cap, which the store holds atomically
    /// across executors (over it, the message waits). The agent is read first for the cap and
    /// the deadline; a missing one is resolved (and the run failed) after the claim, so that it
    /// is finished, not left QUEUED.
    async fn claim(
        &self,
        delivery: &Delivery,
        mut run: Run,
    ) -> Result<(Run, Option<Agent>), Early> {
        let agent = match self.ports.agents.get(&run.agent_id).await {
            Ok(agent) => agent,
            Err(e) => {
                tracing::warn!(error = %e, "agent registry unavailable; deferring the run");
                return Err(self.defer_early(delivery, &run).await);
            }
        };
        let deadline = self.deadline_for(agent.as_ref());
        // An agent that is gone has no cap; its run is claimed only to be failed.
        let cap = agent
            .as_ref()
            .map_or(u32::MAX, |a| a.max_concurrent_runs.max(1));
        let (owner, lease) = (&self.config.owner, self.config.lease);
        match lifecycle::claim(&self.ports, &mut run, cap, owner, lease, deadline).await? {
            Claim::Claimed => {}
            Claim::AtCap => return Err(self.defer_early(delivery, &run).await),
            Claim::Lost => return Err(self.skip(delivery, "claimed elsewhere").await),
        }
        tracing::info!(agent_id = %run.agent_id, attempt = run.attempt, "run started");
        self.ports
            .broadcaster
            .publish(&run.workspace_id, BroadcastEvent::RunStarted(run.clone()));
        Ok((run, agent))
    }

    /// Executes the claimed run while a heartbeat renews its lease and watches for a cancel.
    async fn run_agent(
        &self,
        delivery: &Delivery,
        run: &Run,
        agent: Option<&Agent>,
        shutdown: CancellationToken,
    ) -> Ending {
        let cancel = CancellationToken::new();
        let beat_done = CancellationToken::new();
        let heartbeat = tokio::spawn(
            lifecycle::Heartbeat {
                ports: self.ports.clone(),
                run_id: run.id.clone(),
                receipt: delivery.receipt.clone(),
                owner: self.config.owner.clone(),
                every: self.config.heartbeat,
                lease: self.config.lease,
                cancel: cancel.clone(),
                done: beat_done.clone(),
            }
            .run(),
        );
        let ending = self.execute(run, agent, Stops { cancel, shutdown }).await;
        beat_done.cancel();
        let _ = heartbeat.await;
        ending
    }

    /// RUNNING → terminal (with a deadline of its own), announced, and the message acknowledged.
    async fn finish(&self, delivery: &Delivery, ending: Ending) -> Result<Outcome, Early> {
        let run_id = delivery.run_id.clone();
        let timeout = self.config.final_write_timeout;
        let finished = lifecycle::finish(&self.ports, &run_id, ending, timeout).await?;
        tracing::info!(
            status = %finished.status,
            exit_code = ?finished.exit_code,
            error = ?finished.error_message,
            "run finished"
        );
        let status = finished.status;
        announce::finished(&self.ports, finished).await;
        self.ack(delivery).await;
        Ok(Outcome::Finished { run_id, status })
    }

    async fn skip(&self, delivery: &Delivery, reason: &'static str) -> Early {
        self.ack(delivery).await;
        Early::Done(Outcome::Skipped {
            run_id: delivery.run_id.clone(),
            reason,
        })
    }

    async fn defer_early(&self, delivery: &Delivery, run: &Run) -> Early {
        self.defer(delivery, self.defer_delay(run)).await;
        Early::Done(Outcome::Deferred {
            run_id: delivery.run_id.clone(),
        })
    }
}
