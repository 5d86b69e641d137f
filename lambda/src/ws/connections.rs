//! The connection record — the part of a WebSocket session that must outlive one Lambda
//! invocation — and the [`ConnectionStore`] port that keeps it, with an in-memory adapter.
//!
//! API Gateway holds the socket; every `$connect` / `$default` / `$disconnect` is a separate,
//! stateless invocation, and the executor that publishes frames is another function. The
//! record is what they share: who the client is, what it watches, and how far a resume got.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use crewship_core::ids::{RunId, WorkspaceId};
use handler::ws::protocol::Session;
use handler::ws::replay::ResumePoint;

/// How long a record lives without activity: API Gateway closes a connection after 2 hours
/// whatever happens, so a record older than that (a `$disconnect` that never arrived) is
/// garbage, removed by the table's TTL.
pub const RECORD_TTL_SECS: i64 = 2 * 60 * 60 + 10 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub connection_id: String,
    /// Set once the client authenticated (on `$connect` or with an `auth` frame).
    pub workspace: Option<WorkspaceId>,
    /// The workspaces whose frames this connection receives (at most its own).
    pub channels: BTreeSet<WorkspaceId>,
    /// The run the client resumed, if it did.
    pub resume: Option<Resume>,
    /// Unix seconds.
    pub connected_at: i64,
    /// Unix seconds; the table's TTL attribute.
    pub expires_at: i64,
}

/// Where a resume stands. While `replaying`, the broadcaster does not post the run's frames
/// to this connection but records the newest one it held back (`held_seq`, `held_finished`);
/// the replay, on handing over, sends the stored entries up to it. Every line is thus sent
/// exactly once: by the replay if it was published before the hand-over, live otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub run_id: RunId,
    pub last_seq: u64,
    pub finished: bool,
    pub replaying: bool,
    pub held_seq: Option<u64>,
    pub held_finished: bool,
}

/// What the broadcaster held back while a replay ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub seq: Option<u64>,
    pub finished: bool,
}

impl ConnectionRecord {
    pub fn new(connection_id: &str, workspace: Option<WorkspaceId>, connected_at: i64) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            workspace,
            channels: BTreeSet::new(),
            resume: None,
            connected_at,
            expires_at: connected_at + RECORD_TTL_SECS,
        }
    }

    pub fn session(&self) -> Session {
        Session::restore(self.workspace.clone(), self.channels.iter().cloned())
    }

    /// Takes the session's state back after a frame was handled.
    pub fn store_session(&mut self, session: &Session) {
        self.workspace = session.workspace().cloned();
        self.channels = session.channels().cloned().collect();
        if self.channels.is_empty() {
            self.resume = None;
        }
    }

    /// Whether a live frame must not be posted because the resume already sent it.
    pub fn replay_covers(
        &self,
        frame_type: &str,
        run_id: Option<&RunId>,
        seq: Option<u64>,
    ) -> bool {
        let Some(resume) = &self.resume else {
            return false;
        };
        ResumePoint {
            run_id: resume.run_id.clone(),
            last_seq: resume.last_seq,
            finished: resume.finished,
        }
        .skips(frame_type, run_id, seq)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection store unavailable: {0}")]
    Unavailable(String),
    #[error("connection record is malformed: {0}")]
    Malformed(String),
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Creates or replaces the record.
    async fn put(&self, record: &ConnectionRecord) -> Result<(), ConnectionError>;
    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionRecord>, ConnectionError>;
    /// Idempotent.
    async fn delete(&self, connection_id: &str) -> Result<(), ConnectionError>;
    /// The connections subscribed to the workspace (fan-out).
    async fn subscribers(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<ConnectionRecord>, ConnectionError>;
    /// The replay sent the run's entries up to `last_seq`.
    async fn advance(&self, connection_id: &str, last_seq: u64) -> Result<(), ConnectionError>;
    /// The broadcaster holds back a frame of `run_id` (a line `seq`, or the final frame).
    /// `false` when the connection is no longer replaying that run: post the frame live.
    async fn hold(
        &self,
        connection_id: &str,
        run_id: &RunId,
        seq: Option<u64>,
        finished: bool,
    ) -> Result<bool, ConnectionError>;
    /// Ends the replay phase atomically with the broadcaster's `hold`, returning what it
    /// held back.
    async fn end_replay(
        &self,
        connection_id: &str,
        last_seq: u64,
        finished: bool,
    ) -> Result<Held, ConnectionError>;
}

/// Records in a map, for tests and the conformance suite.
#[derive(Debug, Default)]
pub struct MemoryConnections {
    records: Mutex<HashMap<String, ConnectionRecord>>,
}

impl MemoryConnections {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ConnectionStore for MemoryConnections {
    async fn put(&self, record: &ConnectionRecord) -> Result<(), ConnectionError> {
        let mut records = self.records.lock().unwrap();
        records.insert(record.connection_id.clone(), record.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionRecord>, ConnectionError> {
        Ok(self.records.lock().unwrap().get(connection_id).cloned())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ConnectionError> {
        self.records.lock().unwrap().remove(connection_id);
        Ok(())
    }

    async fn subscribers(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<ConnectionRecord>, ConnectionError> {
        let records = self.records.lock().unwrap();
        let mut found: Vec<_> = records
            .values()
            .filter(|r| r.channels.contains(workspace))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(found)
    }

    async fn advance(&self, connection_id: &str, last_seq: u64) -> Result<(), ConnectionError> {
        let mut records = self.records.lock().unwrap();
        if let Some(resume) = records
            .get_mut(connection_id)
            .and_then(|r| r.resume.as_mut())
        {
            resume.last_seq = last_seq;
        }
        Ok(())
    }

    async fn hold(
        &self,
        connection_id: &str,
        run_id: &RunId,
        seq: Option<u64>,
        finished: bool,
    ) -> Result<bool, ConnectionError> {
        let mut records = self.records.lock().unwrap();
        let Some(resume) = records
            .get_mut(connection_id)
            .and_then(|r| r.resume.as_mut())
            .filter(|r| r.replaying && &r.run_id == run_id)
        else {
            return Ok(false);
        };
        if seq.is_some() {
            resume.held_seq = resume.held_seq.max(seq);
        }
        resume.held_finished |= finished;
        Ok(true)
    }

    async fn end_replay(
        &self,
        connection_id: &str,
        last_seq: u64,
        finished: bool,
    ) -> Result<Held, ConnectionError> {
        let mut records = self.records.lock().unwrap();
        let Some(resume) = records
            .get_mut(connection_id)
            .and_then(|r| r.resume.as_mut())
        else {
            return Ok(Held::default());
        };
        let held = Held {
            seq: resume.held_seq.take(),
            finished: std::mem::take(&mut resume.held_finished),
        };
        resume.replaying = false;
        resume.last_seq = last_seq.max(held.seq.unwrap_or(0));
        resume.finished = finished || held.finished;
        Ok(held)
    }
}
