//! Live events for WebSocket subscribers of `workspace:<id>` (`docs/monitoring.md`, Live runs).

mod memory;

use serde::Serialize;
use serde_json::json;

pub use memory::{Hub, HubFrame, Subscription};

use crate::ids::{RunId, WorkspaceId};
use crate::log::LogEntry;
use crate::run::{Run, RunStatus};

/// Something worth telling the workspace's watchers.
#[derive(Debug, Clone)]
pub enum BroadcastEvent {
    Log { agent_name: String, entry: LogEntry },
    RunStarted(Run),
    RunFinished(Run),
}

/// The `agent.log` payload: the log entry plus the agent's display name.
#[derive(Serialize)]
struct LogPayload<'a> {
    agent: &'a str,
    #[serde(flatten)]
    entry: &'a LogEntry,
}

pub fn channel_of(workspace: &WorkspaceId) -> String {
    format!("workspace:{workspace}")
}

impl BroadcastEvent {
    pub fn frame_type(&self) -> &'static str {
        match self {
            Self::Log { .. } => "agent.log",
            Self::RunStarted(_) => "run.started",
            Self::RunFinished(run) if run.status == RunStatus::Completed => "run.completed",
            Self::RunFinished(_) => "run.failed",
        }
    }

    /// The run and the log sequence number the event is about, for replay de-duplication.
    pub fn position(&self) -> (Option<&RunId>, Option<u64>) {
        match self {
            Self::Log { entry, .. } => (Some(&entry.run_id), Some(entry.seq)),
            Self::RunStarted(run) | Self::RunFinished(run) => (Some(&run.id), None),
        }
    }

    /// The frame as sent to clients.
    pub fn to_frame(&self, workspace: &WorkspaceId) -> String {
        let payload = match self {
            Self::Log { agent_name, entry } => serde_json::to_value(LogPayload {
                agent: agent_name,
                entry,
            }),
            Self::RunStarted(run) | Self::RunFinished(run) => serde_json::to_value(run),
        }
        .expect("frames serialise");
        json!({
            "type": self.frame_type(),
            "channel": channel_of(workspace),
            "payload": payload,
        })
        .to_string()
    }
}

/// Delivers events to whoever watches a workspace. Must never block or fail the caller: a slow
/// or failing subscriber is the subscriber's problem, not the run's.
pub trait Broadcaster: Send + Sync {
    fn publish(&self, workspace: &WorkspaceId, event: BroadcastEvent);
}
