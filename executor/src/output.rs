//! Where an agent's output goes: the log store and the workspace's live channel, in order, with
//! a per-run sequence number.

use std::sync::Arc;

use crewship_core::broadcast::{BroadcastEvent, Broadcaster};
use crewship_core::clock::Clock;
use crewship_core::log::{LogEntry, Stream};
use crewship_core::logs::LogSink;
use crewship_core::run::Run;

pub struct RunOutput {
    logs: Arc<dyn LogSink>,
    broadcaster: Arc<dyn Broadcaster>,
    clock: Arc<dyn Clock>,
    template: LogEntry,
    agent_name: String,
    workspace: crewship_core::ids::WorkspaceId,
}

impl RunOutput {
    pub fn new(
        run: &Run,
        agent_name: &str,
        logs: Arc<dyn LogSink>,
        broadcaster: Arc<dyn Broadcaster>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            template: LogEntry {
                run_id: run.id.clone(),
                agent_id: run.agent_id.clone(),
                seq: 0,
                ts: clock.now(),
                stream: Stream::System,
                level: String::new(),
                event: String::new(),
                content: String::new(),
            },
            agent_name: agent_name.to_owned(),
            workspace: run.workspace_id.clone(),
            logs,
            broadcaster,
            clock,
        }
    }

    /// The last sequence number written.
    pub fn seq(&self) -> u64 {
        self.template.seq
    }

    /// Writes one line. A log store failure is logged and the line still goes live: losing
    /// the run over its log would be worse.
    pub async fn line(&mut self, stream: Stream, level: &str, event: &str, content: String) {
        self.template.seq += 1;
        let entry = LogEntry {
            seq: self.template.seq,
            ts: self.clock.now(),
            stream,
            level: level.to_owned(),
            event: event.to_owned(),
            content,
            ..self.template.clone()
        };
        if let Err(e) = self.logs.append(std::slice::from_ref(&entry)).await {
            tracing::error!(error = %e, run_id = %entry.run_id, seq = entry.seq, "log append failed");
        }
        self.broadcaster.publish(
            &self.workspace,
            BroadcastEvent::Log {
                agent_name: self.agent_name.clone(),
                entry,
            },
        );
    }

    pub async fn system(&mut self, level: &str, content: String) {
        self.line(Stream::System, level, "system", content).await;
    }
}
