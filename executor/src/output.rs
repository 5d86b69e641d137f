//! Where an agent's output goes: the log store and the workspace's live channel, in order, with
//! a per-run sequence number. Entries are buffered and written in batches (one `append` per
//! batch), because one store round trip per line cannot keep up with a chatty agent; the
//! caller flushes whenever the agent has nothing more ready, so a quiet agent's lines are not
//! held back. A run's output is capped ([`LogCap`]): past it lines are counted, not kept, and
//! [`RunOutput::close`] writes one `system` entry saying how much was dropped.

use std::sync::Arc;

use crewship_core::broadcast::{BroadcastEvent, Broadcaster};
use crewship_core::clock::Clock;
use crewship_core::log::{LogEntry, Stream};
use crewship_core::logs::LogSink;
use crewship_core::retention::LogCap;
use crewship_core::run::Run;

/// Entries per `append` at most.
pub const BATCH: usize = 256;

pub struct RunOutput {
    logs: Arc<dyn LogSink>,
    broadcaster: Arc<dyn Broadcaster>,
    clock: Arc<dyn Clock>,
    template: LogEntry,
    agent_name: String,
    workspace: crewship_core::ids::WorkspaceId,
    pending: Vec<LogEntry>,
    cap: LogCap,
    kept_lines: u64,
    kept_bytes: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl RunOutput {
    pub fn new(
        run: &Run,
        agent_name: &str,
        logs: Arc<dyn LogSink>,
        broadcaster: Arc<dyn Broadcaster>,
        clock: Arc<dyn Clock>,
        cap: LogCap,
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
            pending: Vec::with_capacity(BATCH),
            cap,
            kept_lines: 0,
            kept_bytes: 0,
            dropped_lines: 0,
            dropped_bytes: 0,
        }
    }

    /// The last sequence number written.
    pub fn seq(&self) -> u64 {
        self.template.seq
    }

    /// Buffers one line of the agent's output (dropped past the cap); writes the batch once it
    /// is full.
    pub async fn push(&mut self, stream: Stream, level: &str, event: &str, content: String) {
        let bytes = content.len() as u64;
        if self.dropped_lines > 0
            || self.kept_lines >= self.cap.max_lines
            || self.kept_bytes + bytes > self.cap.max_bytes
        {
            self.dropped_lines += 1;
            self.dropped_bytes += bytes;
            return;
        }
        self.kept_lines += 1;
        self.kept_bytes += bytes;
        self.append(stream, level, event, content).await;
    }

    async fn append(&mut self, stream: Stream, level: &str, event: &str, content: String) {
        self.template.seq += 1;
        self.pending.push(LogEntry {
            seq: self.template.seq,
            ts: self.clock.now(),
            stream,
            level: level.to_owned(),
            event: event.to_owned(),
            content,
            ..self.template.clone()
        });
        if self.pending.len() >= BATCH {
            self.flush().await;
        }
    }

    /// Writes what is buffered to the log store, then to the live channel, in order. A log
    /// store failure is logged and the lines still go live: losing the run over its log would
    /// be worse.
    pub async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Err(e) = self.logs.append(&self.pending).await {
            tracing::error!(
                error = %e,
                run_id = %self.template.run_id,
                lines = self.pending.len(),
                "log append failed"
            );
        }
        for entry in self.pending.drain(..) {
            self.broadcaster.publish(
                &self.workspace,
                BroadcastEvent::Log {
                    agent_name: self.agent_name.clone(),
                    entry,
                },
            );
        }
    }

    /// Writes one line at once.
    pub async fn line(&mut self, stream: Stream, level: &str, event: &str, content: String) {
        self.push(stream, level, event, content).await;
        self.flush().await;
    }

    /// The executor's own line about the run; never capped (there are a few per run).
    pub async fn system(&mut self, level: &str, content: String) {
        self.append(Stream::System, level, "system", content).await;
        self.flush().await;
    }

    /// The end of the agent's output: flushes, and says what the cap dropped, if anything.
    pub async fn close(&mut self) {
        if self.dropped_lines > 0 {
            let note = format!(
                "log capped at {} lines / {} bytes: {} more lines ({} bytes) were dropped",
                self.cap.max_lines, self.cap.max_bytes, self.dropped_lines, self.dropped_bytes
            );
            self.system("warn", note).await;
        }
        self.flush().await;
    }
}
