//! Persistence of runs, delivery reservations and chat sessions.

mod deliveries;
mod memory;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use memory::MemoryStore;

/// The in-memory store's maps on the trigger path. Their keys are server-made ids and SHA-256
/// digests, never raw sender input, so a fast hash cannot be flooded with chosen collisions;
/// SipHash of these keys was about 4 % of the trigger path (docs/performance.md).
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

use crate::ids::{AgentId, RunId};
use crate::run::{Lease, Run, RunStatus, TriggerType};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run {0} already exists")]
    AlreadyExists(RunId),
    #[error("run {0} not found")]
    NotFound(RunId),
    /// The conditional write lost: the run is no longer in the state the writer read.
    #[error("run {id} changed concurrently; it is now {current}")]
    Conflict { id: RunId, current: RunStatus },
    #[error("invalid pagination cursor")]
    BadCursor,
    #[error("run store unavailable")]
    Unavailable(#[source] BoxError),
}

/// The result of a lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseRenewal {
    /// Renewed; whether someone asked for the run to be cancelled.
    Renewed { cancel_requested: bool },
    /// The run is no longer RUNNING under this owner (finished, swept as lost): its agent must
    /// stop.
    Lost,
}

/// Filters of the per-agent run listing.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub trigger: Option<TriggerType>,
    pub status: Option<RunStatus>,
}

/// One page of a listing; `next` is an opaque cursor for the following page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Runs, keyed by id, listed per agent.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Writes a new run. Fails with `AlreadyExists` rather than overwrite.
    async fn create(&self, run: &Run) -> Result<(), StoreError>;

    /// `None` when no run has that id.
    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError>;

    /// Replaces the run, conditional on the stored run still having status `prev` and the
    /// version `run.version` (the one the caller read). Terminal runs never change: with a
    /// terminal `prev` this always fails. On success `run.version` is the new version.
    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError>;

    /// The claim, QUEUED → RUNNING: `update(run, Queued)` (with `run` already RUNNING), done
    /// only while fewer than `cap` of the agent's runs are RUNNING, atomically with that count
    /// for every process on the store. `Ok(false)` when the agent is at its cap (nothing is
    /// written); a `Conflict` as `update`'s when someone else moved the run.
    async fn claim_within(&self, run: &mut Run, cap: u32) -> Result<bool, StoreError>;

    /// The agent's runs, newest first, after `cursor`.
    async fn list_by_agent(
        &self,
        agent: &AgentId,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, StoreError>;

    /// The `list_by_agent` cursor that continues after run `id`, as a page ending with that run
    /// would return it (bulk replay resumes after the last run it examined, mid-page).
    fn cursor_after(&self, id: &RunId) -> String {
        id.to_string()
    }

    /// How many of the agent's runs are in `status` now.
    async fn count_by_status(&self, agent: &AgentId, status: RunStatus) -> Result<u64, StoreError>;

    /// Renews the lease of a RUNNING run that `lease.owner` holds, writing the lease fields
    /// (and the version, bumped so that a writer who read the run before sees the renewal)
    /// and nothing else: the heartbeat calls this every beat, and a whole-run write each time
    /// would rewrite the run's document.
    async fn renew_lease(&self, id: &RunId, lease: &Lease) -> Result<LeaseRenewal, StoreError>;

    /// RUNNING runs whose lease expired before `now`: their executor is gone.
    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError>;

    /// QUEUED runs created at or after `from` and before `to`, oldest first: the sweep gives
    /// each a fresh queue message as it reaches a certain age (`docs/executor.md`, Sweep).
    async fn queued_created_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Run>, StoreError>;
}

/// The outcome of a delivery reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    /// One of the keys was taken within the window, by this run.
    Duplicate(RunId),
}

/// Delivery keys seen recently (`docs/webhooks.md`, Deduplication), each scoped to an agent.
#[async_trait]
pub trait DedupStore: Send + Sync {
    /// Atomically reserves every key for `run` until `expires_at`, or none of them when any is
    /// already held by an unexpired reservation.
    async fn reserve(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Reservation, StoreError>;

    /// Releases the keys, but only those still held by `run`. Idempotent.
    async fn release(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
    ) -> Result<(), StoreError>;
}

/// Chat sessions; webhook runs share one per agent.
#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Creates the session with `title` if it does not exist. Returns whether it was created.
    async fn ensure(&self, chat_id: &str, title: &str) -> Result<bool, StoreError>;

    /// The session's title, `None` when it does not exist.
    async fn title(&self, chat_id: &str) -> Result<Option<String>, StoreError>;
}
