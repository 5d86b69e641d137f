//! The run queue: at-least-once delivery of run ids from the handler to executors.

mod memory;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::MemoryQueue;

use crate::ids::RunId;
use crate::store::BoxError;

/// The longest delay a sent message can have (SQS `DelaySeconds`).
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(900);

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unknown or expired receipt")]
    UnknownReceipt,
}

/// The message on the wire: only a run id, versioned so executors can be upgraded separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum QueueMessage {
    #[serde(rename = "1")]
    V1 { run_id: RunId },
}

/// One received message. It becomes visible again after the visibility timeout unless acked.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub run_id: RunId,
    /// Opaque handle for `ack` and `extend`.
    pub receipt: String,
    /// 1 on first delivery.
    pub receive_count: u32,
}

#[async_trait]
pub trait RunQueue: Send + Sync {
    async fn send(&self, run: &RunId) -> Result<(), QueueError>;

    /// Sends a fresh message (receive count 0) that no receive returns before `delay` has
    /// passed. SQS caps the delay at 15 minutes ([`MAX_SEND_DELAY`]); longer ones are cut
    /// to it.
    async fn send_delayed(&self, run: &RunId, delay: Duration) -> Result<(), QueueError>;

    /// Up to `max` messages, waiting up to `wait` for the first one. Empty on timeout.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError>;

    /// Deletes the message for good.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;

    /// Keeps the message invisible for `visibility` from now: a lease extension while the run
    /// executes, or, with a short value, "give it back later".
    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
}
