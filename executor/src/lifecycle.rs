//! The run's state changes, each a conditional write: claim (QUEUED → RUNNING with a lease),
//! heartbeat (lease renewal, cancellation requests) and finish (RUNNING → terminal).

use std::time::Duration;

use crewship_core::ids::RunId;
use crewship_core::ports::Ports;
use crewship_core::run::{Lease, Run, RunStatus, Usage};
use crewship_core::store::{LeaseRenewal, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// How a run ended, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// The agent's answer, already cut to [`crewship_core::run::MAX_RESULT_BYTES`].
    pub result: Option<String>,
    pub usage: Option<Usage>,
}

impl Ending {
    pub fn new(status: RunStatus, exit_code: Option<i32>, error: Option<String>) -> Self {
        Self {
            status,
            exit_code,
            error,
            result: None,
            usage: None,
        }
    }

    pub fn failed(error: impl Into<String>) -> Self {
        Self::new(RunStatus::Failed, None, Some(error.into()))
    }
}

fn lease(owner: &str, now: OffsetDateTime, length: Duration) -> Lease {
    Lease {
        owner: owner.to_owned(),
        expires_at: now + length,
    }
}

/// What a claim came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    /// The agent had `cap` runs RUNNING: nothing was written, the run waits.
    AtCap,
    /// Another writer moved the run first.
    Lost,
}

/// QUEUED → RUNNING, only while fewer than `cap` of the agent's runs are RUNNING (the store
/// counts and claims in one atomic step, across executors: `RunStore::claim_within`).
pub async fn claim(
    ports: &Ports,
    run: &mut Run,
    cap: u32,
    owner: &str,
    lease_len: Duration,
    deadline: Duration,
) -> Result<Claim, StoreError> {
    let queued = run.clone();
    let now = ports.clock.now();
    run.status = RunStatus::Running;
    run.started_at = Some(now);
    run.deadline_at = Some(now + deadline);
    run.attempt += 1;
    run.lease = Some(lease(owner, now, lease_len));
    match ports.runs.claim_within(run, cap).await {
        Ok(true) => Ok(Claim::Claimed),
        Ok(false) => {
            *run = queued;
            Ok(Claim::AtCap)
        }
        Err(StoreError::Conflict { .. }) => Ok(Claim::Lost),
        Err(e) => Err(e),
    }
}

/// Renews a running run's lease (in the store, lease fields only, and on its queue message)
/// until `done` fires, and fires `cancel` when someone asks for the run to be cancelled or
/// the run was finished by another writer. A failed renewal is logged and retried on the next
/// beat.
pub struct Heartbeat {
    pub ports: Ports,
    pub run_id: RunId,
    pub receipt: String,
    pub owner: String,
    pub every: Duration,
    pub lease: Duration,
    pub cancel: CancellationToken,
    pub done: CancellationToken,
}

impl Heartbeat {
    pub async fn run(self) {
        let id = &self.run_id;
        loop {
            tokio::select! {
                () = self.done.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
            if let Err(e) = self.ports.queue.extend(&self.receipt, self.lease * 2).await {
                tracing::warn!(error = %e, run_id = %id, "queue lease extension failed");
            }
            let renewed = lease(&self.owner, self.ports.clock.now(), self.lease);
            match self.ports.runs.renew_lease(id, &renewed).await {
                Ok(LeaseRenewal::Renewed { cancel_requested }) => {
                    if cancel_requested {
                        self.cancel.cancel();
                    }
                }
                Ok(LeaseRenewal::Lost) => {
                    // Someone else finished the run (e.g. it was swept as lost while this
                    // executor could not renew): the agent must not keep running for nothing.
                    self.cancel.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, run_id = %id, "lease renewal failed");
                }
            }
        }
    }
}

/// RUNNING → terminal, retried across lost races, under a deadline of its own. Returns the
/// run as finally stored (which may be another writer's terminal state).
pub async fn finish(
    ports: &Ports,
    id: &RunId,
    ending: Ending,
    timeout: Duration,
) -> Result<Run, StoreError> {
    finish_if(ports, id, ending, timeout, |_| true)
        .await
        .map(|(run, _)| run)
}

/// Like [`finish`], but only while `still` holds for the run as read just before each
/// conditional write (so the check and the write see the same version). Returns the stored
/// run and whether this call finished it.
pub async fn finish_if(
    ports: &Ports,
    id: &RunId,
    ending: Ending,
    timeout: Duration,
    still: impl Fn(&Run) -> bool,
) -> Result<(Run, bool), StoreError> {
    let attempt = async {
        loop {
            let mut run = ports
                .runs
                .get(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(id.clone()))?;
            if run.status.is_terminal() || !still(&run) {
                return Ok((run, false));
            }
            let prev = run.status;
            run.finish(
                ending.status,
                ending.exit_code,
                ending.error.clone(),
                ports.clock.now(),
            );
            run.result.clone_from(&ending.result);
            run.usage.clone_from(&ending.usage);
            match ports.runs.update(&mut run, prev).await {
                Ok(()) => return Ok((run, true)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| StoreError::Unavailable("final write timed out".into()))?
}
