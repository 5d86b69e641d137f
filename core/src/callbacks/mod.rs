//! Completion callbacks on their way out (`docs/callbacks.md`): the outbox port that keeps them
//! until they are delivered, so that a pending callback survives a restart wherever the store
//! does.
//!
//! - [`entry`]: one callback — its frozen body, its attempts, its state.
//! - [`schedule`]: when a failed attempt is tried again.
//! - [`announce`]: [`announce::finished`], the one function every terminal transition calls
//!   (broadcast, then the callback into the outbox).
//! - `memory`: [`MemoryOutbox`]; the SQLite adapter is in `sqlite/callbacks.rs`.
//! - `disabled`: [`DisabledOutbox`], for deployments without a delivery worker (the cloud
//!   bins on the memory store), which keeps nothing.
//! - The DynamoDB adapter is `crewship_aws::dynamodb::DynamoOutbox`.
//!
//! Delivery (the SSRF guard, the signed POST) is the executor's: this crate only decides what
//! is sent, and when.

pub mod announce;
mod disabled;
pub mod entry;
mod memory;
pub mod schedule;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use disabled::DisabledOutbox;
pub use entry::{Attempt, CallbackState, OutboxEntry};
pub use memory::MemoryOutbox;
pub use schedule::RetrySchedule;

use crate::ids::{CallbackId, RunId};
use crate::store::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The write lost: the callback is no longer as the writer claimed it (another worker
    /// took it over after the claim ran out, or it was already finished).
    #[error("callback {0} changed concurrently")]
    Conflict(CallbackId),
    #[error("callback {0} not found")]
    NotFound(CallbackId),
    #[error("callback outbox unavailable")]
    Unavailable(#[source] BoxError),
}

/// Pending callbacks and the record of their attempts.
///
/// A claim is a conditional write of `next_attempt_at`: a claimed callback is not due again
/// until the claim's end, so two workers never make the same attempt; a worker that dies
/// mid-attempt leaves it to be claimed again once the claim runs out.
#[async_trait]
pub trait CallbackOutbox: Send + Sync {
    /// Adds a callback. A run has at most one: a second one for the same run is ignored and
    /// answers `false`, so an announcement made twice sends once.
    async fn enqueue(&self, entry: &OutboxEntry) -> Result<bool, OutboxError>;

    /// Up to `limit` pending callbacks due at `now`, earliest due first, each claimed until
    /// `until` (their `next_attempt_at` is `until` when returned).
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, OutboxError>;

    /// Claims one callback by id, as [`claim_due`](Self::claim_due) does; `None` when it is
    /// unknown, finished, or not due (claimed by someone else).
    async fn claim(
        &self,
        id: &CallbackId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError>;

    /// Writes `entry` after one more attempt (its last), with its new state and next time.
    /// Conditional on the stored callback being pending with one attempt fewer: else
    /// `Conflict`, and nothing is written.
    async fn record(&self, entry: &OutboxEntry) -> Result<(), OutboxError>;

    /// One callback as stored, whatever its state; `None` when it is unknown.
    async fn get(&self, id: &CallbackId) -> Result<Option<OutboxEntry>, OutboxError>;

    /// The run's callbacks (none or one), for the API.
    async fn of_run(&self, run: &RunId) -> Result<Vec<OutboxEntry>, OutboxError>;
}
