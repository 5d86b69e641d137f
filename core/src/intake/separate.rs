//! Intake as two writes, for a store and a queue that share no transaction (memory, DynamoDB
//! with SQS): the run first, then the message; if the message cannot be sent, the run is
//! finished FAILED so that none is left QUEUED without one. A crash between the two writes
//! still leaves such a run: these backends do not survive a crash anyway (memory), or accept
//! that window (DynamoDB and SQS have no common transaction).

use std::sync::Arc;

use async_trait::async_trait;

use super::{IntakeError, RunIntake};
use crate::clock::Clock;
use crate::queue::RunQueue;
use crate::run::{Run, RunStatus};
use crate::store::RunStore;

pub struct SeparateIntake {
    runs: Arc<dyn RunStore>,
    queue: Arc<dyn RunQueue>,
    clock: Arc<dyn Clock>,
}

impl SeparateIntake {
    pub fn new(runs: Arc<dyn RunStore>, queue: Arc<dyn RunQueue>, clock: Arc<dyn Clock>) -> Self {
        Self { runs, queue, clock }
    }
}

#[async_trait]
impl RunIntake for SeparateIntake {
    async fn record(&self, run: &Run) -> Result<(), IntakeError> {
        self.runs.create(run).await.map_err(IntakeError::Store)?;
        if let Err(e) = self.queue.send(&run.id).await {
            let mut failed = run.clone();
            failed.finish(
                RunStatus::Failed,
                None,
                Some("the run queue was unavailable; the run was not started".into()),
                self.clock.now(),
            );
            if let Err(e) = self.runs.update(&mut failed, RunStatus::Queued).await {
                tracing::error!(error = %e, run_id = %run.id, "marking an unqueued run FAILED failed");
            }
            return Err(IntakeError::Queue(e));
        }
        Ok(())
    }
}
