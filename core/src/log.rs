//! Log entries: what an agent wrote, one line at a time, in order.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AgentId, RunId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
    /// Lines the executor writes about the run itself (start, finish, errors).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub run_id: RunId,
    pub agent_id: AgentId,
    /// Per-run, starting at 1, without gaps.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
    pub stream: Stream,
    pub level: String,
    pub event: String,
    pub content: String,
}
