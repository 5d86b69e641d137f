//! Retention: how much finished history a single-machine store keeps (docs/stores.md,
//! Retention). Finished runs and their logs go after an age and beyond a count per agent;
//! QUEUED and RUNNING runs never do. A run's log is capped where it is written
//! ([`LogCap`], applied by the executor).

mod memory;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use memory::MemoryRetention;

use crate::store::StoreError;

/// Which finished runs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// A run finished longer ago than this is deleted with its log.
    pub max_age: Duration,
    /// Each agent's newest finished runs kept; older finished ones are deleted.
    pub max_runs_per_agent: u64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_runs_per_agent: 1000,
        }
    }
}

/// How much of one run's output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCap {
    pub max_lines: u64,
    pub max_bytes: u64,
}

impl Default for LogCap {
    fn default() -> Self {
        Self {
            max_lines: 10_000,
            max_bytes: 1024 * 1024,
        }
    }
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs: u64,
    pub reservations: u64,
}

/// The sweep of a store that keeps its own history (memory, SQLite).
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes the finished runs `policy` no longer keeps at `now`, with their log entries and
    /// callbacks,
    /// and the dedup reservations expired by `now`. Never a QUEUED or RUNNING run. Idempotent.
    async fn sweep(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<Swept, StoreError>;
}

/// The instant before which finished runs are too old.
pub(crate) fn cutoff(policy: &RetentionPolicy, now: OffsetDateTime) -> OffsetDateTime {
    let age = time::Duration::try_from(policy.max_age).unwrap_or(time::Duration::MAX);
    now.checked_sub(age).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
