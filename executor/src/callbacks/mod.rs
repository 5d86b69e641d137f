//! The callback delivery worker (`docs/callbacks.md`): drains the outbox apart from the run
//! path, so that a slow or dead receiver never slows a run.
//!
//! - here: [`CallbackWorker`], with [`CallbackWorker::step`] (claim what is due, make one
//!   attempt of each), [`CallbackWorker::run_until_stopped`], which only loops, and
//!   [`CallbackWorker::attempt_named`], the attempt a queue message asks for (`callback-lambda`).
//! - [`deliver`]: one attempt — guard, signed POST, outcome.
//! - [`guard`]: the SSRF guard and the address it pins.

pub mod deliver;
pub mod guard;

use std::sync::Arc;
use std::time::Duration;

use crewship_core::callbacks::{
    Attempt, OutboxEntry, OutboxError, RetrySchedule, schedule::DEFAULT_RETRY_SECS,
};
use crewship_core::ids::CallbackId;
use crewship_core::ports::Ports;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use deliver::{AttemptRules, Tried};

/// The delivery settings, from `[server]` (`callback_allow_private`, `callback_retry_secs`).
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub allow_private: bool,
    pub schedule: RetrySchedule,
    /// Each attempt's deadline.
    pub timeout: Duration,
    /// How long a claimed callback is not due to anyone else: well over one attempt.
    pub claim: Duration,
    /// Callbacks attempted at once per step.
    pub batch: usize,
    /// The wait between steps that found nothing due.
    pub idle: Duration,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(10),
            claim: Duration::from_secs(60),
            batch: 16,
            idle: Duration::from_secs(1),
        }
    }
}

impl CallbackConfig {
    /// The `[server]` keys; the settings checked the schedule when they were loaded.
    pub fn from_settings(s: &crewship_settings::model::Server) -> Self {
        Self {
            allow_private: s.callback_allow_private,
            schedule: s
                .callback_retry_secs
                .parse()
                .unwrap_or_else(|_| DEFAULT_RETRY_SECS.parse().expect("the default parses")),
            ..Self::default()
        }
    }
}

/// What follows a queue-driven attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered, given up, refused or unknown: the message is done with.
    Done,
    /// Still pending: the message should come back at this time.
    At(OffsetDateTime),
}

pub struct CallbackWorker {
    ports: Ports,
    config: CallbackConfig,
}

impl CallbackWorker {
    pub fn new(ports: Ports, config: CallbackConfig) -> Self {
        Self { ports, config }
    }

    /// Claims the callbacks due now and makes one attempt of each, concurrently. Returns how
    /// many were attempted.
    pub async fn step(&self) -> Result<usize, OutboxError> {
        let now = self.ports.clock.now();
        let due = self
            .ports
            .callbacks
            .claim_due(now, now + self.config.claim, self.config.batch)
            .await?;
        let n = due.len();
        futures_util::future::join_all(due.into_iter().map(|entry| self.attempt(entry))).await;
        Ok(n)
    }

    /// The callback `id`, named by a queue message (the cloud's delivery path): one attempt if
    /// it is due, and when the message should come back, if ever.
    pub async fn attempt_named(&self, id: &CallbackId) -> Result<Next, OutboxError> {
        let now = self.ports.clock.now();
        let until = now + self.config.claim;
        let entry = match self.ports.callbacks.claim(id, now, until).await? {
            Some(claimed) => self.attempt(claimed).await,
            // Unknown, finished, not yet due, or claimed by another worker.
            None => match self.ports.callbacks.get(id).await? {
                Some(entry) => entry,
                None => return Ok(Next::Done),
            },
        };
        Ok(match entry.next_attempt_at {
            Some(at) if !entry.is_finished() => Next::At(at),
            _ => Next::Done,
        })
    }

    /// One attempt of a claimed callback, recorded; the callback as it was written.
    pub async fn attempt(&self, mut entry: OutboxEntry) -> OutboxEntry {
        let now = self.ports.clock.now();
        let rules = AttemptRules {
            allow_private: self.config.allow_private,
            timeout: self.config.timeout,
        };
        match self.key(&entry).await {
            Ok(Some(key)) => match deliver::attempt(&entry, &key, rules, now).await {
                Tried::Made(attempt) => self.config.schedule.apply(&mut entry, attempt),
                Tried::Refused(attempt) => RetrySchedule::refuse(&mut entry, attempt),
            },
            Ok(None) => RetrySchedule::refuse(
                &mut entry,
                Attempt::failed(
                    now,
                    "the agent no longer exists or has no secret to sign with",
                ),
            ),
            Err(e) => {
                let attempt = Attempt::failed(now, "the agent registry was unavailable");
                tracing::warn!(error = %e, callback_id = %entry.id, "agent lookup failed");
                self.config.schedule.apply(&mut entry, attempt);
            }
        }
        let last = entry.attempts.last().expect("one attempt was added");
        tracing::info!(
            callback_id = %entry.id,
            run_id = %entry.run_id,
            attempt = entry.attempts.len(),
            status_code = ?last.status_code,
            error = ?last.error,
            state = entry.state.as_str(),
            "callback attempt"
        );
        if let Err(e) = self.ports.callbacks.record(&entry).await {
            tracing::warn!(error = %e, callback_id = %entry.id, "recording a callback attempt failed");
        }
        entry
    }

    /// The signing key: the callback's own secret, else the agent's webhook secret, both as
    /// they are now (a rotation applies to callbacks not yet sent).
    async fn key(
        &self,
        entry: &OutboxEntry,
    ) -> Result<Option<Vec<u8>>, crewship_core::registry::RegistryError> {
        let agent = self.ports.agents.get(&entry.agent_id).await?;
        Ok(agent.and_then(|agent| {
            let own = agent.callback.as_ref().and_then(|c| c.secret.clone());
            own.or(agent.webhook_secret)
                .map(|s| s.expose().as_bytes().to_vec())
        }))
    }

    /// Steps until `stop`; waits `idle` whenever nothing was due, backs off when the outbox
    /// cannot be read.
    pub async fn run_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = self.config.idle;
        loop {
            let wait = match self.step().await {
                Ok(0) => self.config.idle,
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the callback outbox failed; backing off");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
