//! Resuming a run's stream (`docs/monitoring.md`, Live runs): the stored log entries after a given
//! `seq`, then, if the run has finished meanwhile, its `run.completed` / `run.failed` frame, so
//! that a client that reconnects misses nothing. Transport-free: any transport sends the batches,
//! and uses the [`ResumePoint`] to drop live frames the replay already covered.
//!
//! Gap-free by construction when the transport subscribes to live frames *before* the replay
//! starts: the executor stores a line before it publishes it, so a line is either stored before
//! the replay reads (replayed) or published after the subscription (live), and the resume
//! point removes the lines that are both.

use crewship_core::broadcast::BroadcastEvent;
use crewship_core::ids::{RunId, WorkspaceId};
use crewship_core::logs::{LogError, LogQuery};
use crewship_core::ports::Ports;
use crewship_core::run::Run;
use crewship_core::store::StoreError;

/// Entries read from the log store per batch.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The run does not exist or belongs to another workspace: the same answer for both.
    #[error("no such run")]
    NoSuchRun,
    #[error("run store unavailable")]
    Store(#[from] StoreError),
    #[error("log store unavailable")]
    Logs(#[from] LogError),
}

impl ReplayError {
    /// The sentence the client reads.
    pub fn client_message(&self) -> &'static str {
        match self {
            Self::NoSuchRun => "no such run",
            Self::Store(_) | Self::Logs(_) => "the run's log is temporarily unavailable; retry",
        }
    }
}

/// How far a replay got: live frames of the run up to here were already sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    pub run_id: RunId,
    /// The last `seq` sent (the client's `after` if nothing newer was stored).
    pub last_seq: u64,
    /// The run's final frame was sent by the replay.
    pub finished: bool,
}

impl ResumePoint {
    /// Whether a live frame repeats what the replay sent, or would arrive out of order
    /// (a `run.started` after the lines it precedes).
    pub fn skips(&self, frame_type: &str, run_id: Option<&RunId>, seq: Option<u64>) -> bool {
        if run_id != Some(&self.run_id) {
            return false;
        }
        match frame_type {
            "agent.log" => seq.is_some_and(|s| s <= self.last_seq),
            "run.started" => self.last_seq > 0,
            "run.completed" | "run.failed" => self.finished,
            _ => false,
        }
    }
}

enum Stage {
    Logs,
    /// The run finished: read what is left, then send its final frame.
    Drain(Box<Run>),
    Done,
}

pub struct Replay {
    ports: Ports,
    workspace: WorkspaceId,
    run: Run,
    agent_name: String,
    point: ResumePoint,
    stage: Stage,
}

impl Replay {
    /// Checks that the run belongs to `workspace` before anything is read.
    pub async fn start(
        ports: &Ports,
        workspace: &WorkspaceId,
        run_id: &RunId,
        after: u64,
    ) -> Result<Self, ReplayError> {
        let run = ports
            .runs
            .get(run_id)
            .await?
            .filter(|r| &r.workspace_id == workspace)
            .ok_or(ReplayError::NoSuchRun)?;
        // A deleted agent still has its runs' logs; its id stands in for its name.
        let agent_name = match ports.agents.get(&run.agent_id).await {
            Ok(Some(agent)) => agent.name,
            _ => run.agent_id.to_string(),
        };
        Ok(Self {
            ports: ports.clone(),
            workspace: workspace.clone(),
            point: ResumePoint {
                run_id: run.id.clone(),
                last_seq: after,
                finished: false,
            },
            run,
            agent_name,
            stage: Stage::Logs,
        })
    }

    pub fn point(&self) -> &ResumePoint {
        &self.point
    }

    /// The next frames to send, oldest first; `None` once the replay is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<String>>, ReplayError> {
        loop {
            match &self.stage {
                Stage::Done => return Ok(None),
                Stage::Logs | Stage::Drain(_) => {
                    let frames = self.read_page().await?;
                    if !frames.is_empty() {
                        return Ok(Some(frames));
                    }
                }
            }
            // Caught up with the store.
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Logs => {
                    let run = self.ports.runs.get(&self.point.run_id).await?;
                    if let Some(run) = run.filter(|r| r.status.is_terminal()) {
                        // Its last lines were stored before it finished: one more read gets them.
                        self.stage = Stage::Drain(Box::new(run));
                    } else {
                        return Ok(None);
                    }
                }
                Stage::Drain(run) => {
                    self.point.finished = true;
                    let frame = BroadcastEvent::RunFinished(*run).to_frame(&self.workspace);
                    return Ok(Some(vec![frame]));
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    async fn read_page(&mut self) -> Result<Vec<String>, ReplayError> {
        let query = LogQuery {
            agent: self.run.agent_id.clone(),
            run: Some(self.point.run_id.clone()),
            after: Some(self.point.last_seq),
            limit: PAGE,
        };
        let entries = self.ports.logs.query(&query).await?;
        if let Some(last) = entries.last() {
            self.point.last_seq = last.seq;
        }
        Ok(entries
            .into_iter()
            .map(|entry| {
                BroadcastEvent::Log {
                    agent_name: self.agent_name.clone(),
                    entry,
                }
                .to_frame(&self.workspace)
            })
            .collect())
    }
}
