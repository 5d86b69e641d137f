//! The dead-letter queue's remedies (docs/aws.md, "Dead-letter queue runbook"). A message is in
//! the DLQ after `maxReceiveCount` deliveries that failed (a waiting run never gets there: it is
//! re-sent before). Its run is then QUEUED with no message, and stays so until someone decides:
//!
//! - [`DlqAction::Redrive`]: the cause is fixed; each QUEUED run gets a fresh message on the
//!   run queue, and runs again.
//! - [`DlqAction::Fail`]: the runs are given up; each QUEUED run is finished FAILED
//!   [`DEAD_LETTERED`], so its caller sees an outcome, and its final frame is published on
//!   the ports' broadcaster like every other terminal transition.
//!
//! Either way a message whose run is no longer QUEUED (finished meanwhile, or RUNNING, which
//! the sweep finishes if its executor is gone) or unknown is only deleted. A message that is
//! not a run envelope is left in the DLQ for a human to read.

use std::time::Duration;

use crewship_core::ports::Ports;
use crewship_core::queue::{QueueError, RunQueue};
use crewship_core::run::RunStatus;
use crewship_core::store::StoreError;
use executor::lifecycle::{self, Ending};

/// The error of a run failed from the dead-letter queue.
pub const DEAD_LETTERED: &str = "queue message dead-lettered";

/// The final write of a failed run gets this long.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DlqAction {
    Redrive,
    Fail,
}

/// What one pass over the dead-letter queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DlqReport {
    /// QUEUED runs sent back to the run queue.
    pub redriven: usize,
    /// QUEUED runs finished FAILED.
    pub failed: usize,
    /// Messages of runs that were not QUEUED, or unknown: deleted, nothing else to do.
    pub settled: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("dead-letter or run queue")]
    Queue(#[source] QueueError),
    #[error("run store")]
    Store(#[source] StoreError),
}

/// Takes every message off `dlq` and applies `action` to its run. Stops at the first port
/// failure; what was done until then stays done, and a message is deleted only after its run
/// was dealt with, so a second pass picks up where this one stopped.
pub async fn drain(
    dlq: &dyn RunQueue,
    ports: &Ports,
    action: DlqAction,
) -> Result<DlqReport, DlqError> {
    let mut report = DlqReport::default();
    loop {
        let batch = dlq
            .receive(10, Duration::from_secs(1))
            .await
            .map_err(DlqError::Queue)?;
        if batch.is_empty() {
            return Ok(report);
        }
        for delivery in batch {
            let run = ports
                .runs
                .get(&delivery.run_id)
                .await
                .map_err(DlqError::Store)?;
            match (run.map(|r| r.status), action) {
                (Some(RunStatus::Queued), DlqAction::Redrive) => {
                    ports
                        .queue
                        .send(&delivery.run_id)
                        .await
                        .map_err(DlqError::Queue)?;
                    report.redriven += 1;
                }
                (Some(RunStatus::Queued), DlqAction::Fail) => {
                    let (run, finished) = lifecycle::finish_if(
                        ports,
                        &delivery.run_id,
                        Ending::failed(DEAD_LETTERED),
                        FINAL_WRITE_TIMEOUT,
                        |_| true,
                    )
                    .await
                    .map_err(DlqError::Store)?;
                    if finished {
                        // Every terminal transition is announced once, by its writer.
                        crewship_core::callbacks::announce::finished(ports, run).await;
                        report.failed += 1;
                    } else {
                        report.settled += 1;
                    }
                }
                _ => report.settled += 1,
            }
            tracing::info!(run_id = %delivery.run_id, ?action, "dead-lettered run dealt with");
            dlq.ack(&delivery.receipt).await.map_err(DlqError::Queue)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crewship_core::broadcast::Hub;
    use crewship_core::ports::MemoryPorts;
    use crewship_core::queue::MemoryQueue;
    use crewship_core::registry::MemoryRegistry;
    use crewship_test_support::{AgentBuilder, queued_run};

    use super::*;

    #[tokio::test]
    async fn a_run_failed_from_the_dead_letter_queue_is_announced_once() {
        let agent = AgentBuilder::new("dlq-agent").build();
        let memory = MemoryPorts::new(
            Arc::new(MemoryRegistry::new([agent.clone()])),
            Duration::from_secs(30),
        );
        let hub: &Hub = &memory.hub;
        let mut frames = hub.subscribe(&agent.workspace_id, 16);
        let run = queued_run(&agent, "{}");
        memory.ports.runs.create(&run).await.unwrap();
        let dead = MemoryQueue::new(Duration::from_secs(30));
        dead.send(&run.id).await.unwrap();
        dead.send(&run.id).await.unwrap();

        let report = drain(&dead, &memory.ports, DlqAction::Fail).await.unwrap();

        assert_eq!((report.failed, report.settled), (1, 1), "{report:?}");
        let frame = frames.rx.try_recv().expect("the run's final frame");
        assert_eq!(frame.frame_type, "run.failed");
        assert_eq!(frame.run_id.as_ref(), Some(&run.id));
        assert!(frames.rx.try_recv().is_err(), "announced twice");
    }
}
