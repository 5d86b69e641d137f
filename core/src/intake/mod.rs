//! Recording a new run: the run, QUEUED, and its queue message, so that an executor will take it
//! up. One port because the two writes belong together: a QUEUED run without a message would
//! never run, and a message without its run is skipped.

mod separate;

use async_trait::async_trait;

pub use separate::SeparateIntake;

use crate::queue::QueueError;
use crate::run::Run;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Nothing was recorded.
    #[error("the run could not be recorded")]
    Store(#[source] StoreError),
    /// The run could not be queued; it is not left QUEUED (see [`RunIntake::record`]).
    #[error("the run could not be queued")]
    Queue(#[source] QueueError),
}

#[async_trait]
pub trait RunIntake: Send + Sync {
    /// Writes `run` (QUEUED) and sends its queue message. On `Ok` both are durable as far as the
    /// backend is (the SQLite adapter commits them in one transaction before it returns). On an
    /// error no QUEUED run is left without a message: either nothing was written, or the run
    /// was finished FAILED. `AlreadyExists` (as `Store`) when the id is taken.
    async fn record(&self, run: &Run) -> Result<(), IntakeError>;
}
