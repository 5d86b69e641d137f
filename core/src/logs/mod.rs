//! The log writer: where agent output is kept for the monitoring API.

mod memory;

use async_trait::async_trait;

pub use memory::MemoryLogs;

use crate::ids::{AgentId, RunId};
use crate::log::LogEntry;
use crate::store::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log store unavailable")]
    Unavailable(#[source] BoxError),
}

#[derive(Debug, Clone)]
pub struct LogQuery {
    pub agent: AgentId,
    pub run: Option<RunId>,
    /// Only entries with a greater `seq` (meaningful with `run`).
    pub after: Option<u64>,
    pub limit: usize,
}

#[async_trait]
pub trait LogSink: Send + Sync {
    /// Appends entries of one run, in `seq` order. Re-appending a seq already stored is a no-op,
    /// so a retried batch does not duplicate lines.
    async fn append(&self, entries: &[LogEntry]) -> Result<(), LogError>;

    /// Entries oldest first.
    async fn query(&self, query: &LogQuery) -> Result<Vec<LogEntry>, LogError>;
}
