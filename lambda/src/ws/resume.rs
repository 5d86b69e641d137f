//! Resuming a run (`subscribe` with `run_id` / `after`) in the cloud: the stored entries after
//! `after` through the shared [`Replay`], posted by the `$default` invocation, while the
//! executor's broadcaster holds the run's live frames back for this connection. The hand-over
//! ([`ConnectionStore::end_replay`]) is atomic with the broadcaster's holds: everything held
//! back (all stored, since the executor stores before it publishes) is then read and sent by
//! the replay, everything published later goes live. Nothing is lost and nothing repeats, so
//! a client reconnecting after API Gateway's 10-minute idle or 2-hour limit misses nothing.

use crewship_core::broadcast::channel_of;
use crewship_core::ids::{RunId, WorkspaceId};
use crewship_core::ports::Ports;
use handler::ws::protocol;
use handler::ws::replay::{Replay, ReplayError};

use super::broadcaster::send_all;
use super::connections::{ConnectionError, ConnectionStore};
use super::limits;
use super::poster::Poster;

pub struct Resumption<'a> {
    pub ports: &'a Ports,
    pub connections: &'a dyn ConnectionStore,
    pub poster: &'a dyn Poster,
    pub connection_id: &'a str,
    pub workspace: &'a WorkspaceId,
}

impl Resumption<'_> {
    /// Replays, then hands over to live delivery. `Ok(false)` when the client is gone.
    pub async fn run(&self, run_id: &RunId, after: u64) -> Result<bool, ConnectionError> {
        let mut replay = match Replay::start(self.ports, self.workspace, run_id, after).await {
            Ok(replay) => replay,
            Err(e) => {
                // Nothing to resume: the live frames of other runs are unaffected.
                self.connections
                    .end_replay(self.connection_id, after, false)
                    .await?;
                return self.failed(&e).await;
            }
        };
        loop {
            match replay.next_batch().await {
                Ok(Some(frames)) => {
                    if !self.send(frames).await {
                        return Ok(false);
                    }
                    let point = replay.point();
                    self.connections
                        .advance(self.connection_id, point.last_seq)
                        .await?;
                }
                Ok(None) => break,
                Err(e) => {
                    let point = replay.point();
                    self.connections
                        .end_replay(self.connection_id, point.last_seq, point.finished)
                        .await?;
                    return self.failed(&e).await;
                }
            }
        }
        let point = replay.point().clone();
        let held = self
            .connections
            .end_replay(self.connection_id, point.last_seq, point.finished)
            .await?;
        let missing_lines = held.seq.is_some_and(|s| s > point.last_seq);
        let missing_final = held.finished && !point.finished;
        if !missing_lines && !missing_final {
            return Ok(true);
        }
        // What the broadcaster held back since the replay's last read: stored, not yet sent.
        let up_to = held.seq.unwrap_or(point.last_seq);
        let mut tail = match Replay::start(self.ports, self.workspace, run_id, point.last_seq).await
        {
            Ok(tail) => tail,
            Err(e) => return self.failed(&e).await,
        };
        loop {
            match tail.next_batch().await {
                Ok(Some(frames)) => {
                    let frames = frames
                        .into_iter()
                        .filter(|f| belongs_to_tail(f, up_to, missing_final))
                        .collect();
                    if !self.send(frames).await {
                        return Ok(false);
                    }
                }
                Ok(None) => return Ok(true),
                Err(e) => return self.failed(&e).await,
            }
        }
    }

    async fn send(&self, frames: Vec<String>) -> bool {
        let messages: Vec<String> = frames.into_iter().flat_map(limits::fit).collect();
        send_all(self.connections, self.poster, self.connection_id, &messages).await
    }

    async fn failed(&self, e: &ReplayError) -> Result<bool, ConnectionError> {
        if !matches!(e, ReplayError::NoSuchRun) {
            tracing::error!(error = %e, source = ?std::error::Error::source(e), "log replay failed");
        }
        let channel = channel_of(self.workspace);
        let text = protocol::error(Some(&channel), e.client_message());
        Ok(send_all(self.connections, self.poster, self.connection_id, &[text]).await)
    }
}

/// A tail frame is sent when the broadcaster held it back: a line up to `up_to`, or the
/// final frame if that was held too. Later ones were, or will be, posted live.
fn belongs_to_tail(frame: &str, up_to: u64, final_held: bool) -> bool {
    // Typed, so a run frame's webhook body is skipped, not built: it may nest as deep as the
    // ingest limit allows.
    #[derive(serde::Deserialize)]
    struct Frame<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        #[serde(default)]
        payload: Seq,
    }
    #[derive(serde::Deserialize, Default)]
    struct Seq {
        seq: Option<u64>,
    }
    let Ok(frame) = serde_json::from_str::<Frame>(frame) else {
        return false;
    };
    match frame.kind {
        "agent.log" => frame.payload.seq.is_some_and(|s| s <= up_to),
        "run.completed" | "run.failed" => final_held,
        _ => false,
    }
}
