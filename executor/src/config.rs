//! Executor settings, taken from the `[executor]` section of the one settings model
//! (`crewship-settings`, docs/configuration.md) by [`ExecutorConfig::from_settings`].

use std::time::Duration;

use crewship_core::retention::LogCap;

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The deadline of every run; an agent may ask for less, never more.
    pub run_timeout: Duration,
    /// Runs executing at once in this executor.
    pub max_concurrent_runs: usize,
    /// Between SIGTERM and SIGKILL when a process tree is stopped.
    pub kill_grace: Duration,
    /// How long a claim stays valid without a heartbeat.
    pub lease: Duration,
    /// How often a running run's lease (and its queue message) is renewed, and cancellation
    /// requests are looked for.
    pub heartbeat: Duration,
    /// Longest wait for a queue message in one receive.
    pub poll_wait: Duration,
    /// The shortest wait of a run over a concurrency cap before the queue offers it again;
    /// the wait grows with the time the run has waited, up to `defer_max`.
    pub defer: Duration,
    /// The longest such wait.
    pub defer_max: Duration,
    /// The queue's dead-letter threshold (SQS `maxReceiveCount`): a waiting run's message is
    /// replaced by a fresh one before it gets there.
    pub max_receives: u32,
    /// A QUEUED run this old is given a fresh queue message once, by the sweep, in case the
    /// one it was created with never got sent.
    pub requeue_after: Duration,
    /// On shutdown, how long running agents may take to finish before they are stopped.
    pub shutdown_grace: Duration,
    /// The final write of a run gets a deadline of its own, never the run's expired one.
    pub final_write_timeout: Duration,
    /// Identifies this executor in leases.
    pub owner: String,
    /// How much of one run's output is kept (`[retention]` log caps).
    pub log_cap: LogCap,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            run_timeout: Duration::from_secs(600),
            max_concurrent_runs: 8,
            kill_grace: Duration::from_secs(5),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(1),
            poll_wait: Duration::from_secs(5),
            defer: Duration::from_millis(500),
            defer_max: Duration::from_secs(300),
            max_receives: 5,
            requeue_after: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(30),
            final_write_timeout: Duration::from_secs(30),
            owner: format!("executor-{}-{:08x}", std::process::id(), rand_u32()),
            log_cap: LogCap::default(),
        }
    }
}

impl ExecutorConfig {
    /// The `[executor]` section; what it does not set keeps the default.
    pub fn from_settings(s: &crewship_settings::model::Executor) -> Self {
        Self {
            run_timeout: s.run_timeout(),
            max_concurrent_runs: s.max_concurrent_runs,
            kill_grace: Duration::from_secs(s.kill_grace_secs),
            lease: Duration::from_millis(s.lease_ms),
            heartbeat: Duration::from_millis(s.heartbeat_ms),
            poll_wait: Duration::from_secs(s.poll_wait_secs),
            shutdown_grace: Duration::from_secs(s.shutdown_grace_secs),
            max_receives: s.max_receives,
            requeue_after: Duration::from_secs(s.requeue_after_secs),
            ..Self::default()
        }
    }
}

fn rand_u32() -> u32 {
    // Enough to tell executors on one host apart; not a secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
