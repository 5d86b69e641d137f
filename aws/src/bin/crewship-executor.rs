//! `crewship-executor`: a long-lived SQS consumer running agents as local processes, on the
//! adapters the environment chooses (see `crewship_aws::config`). Stops on SIGTERM / Ctrl-C,
//! giving running agents their grace period.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use crewship_aws::config::{Backends, build_ports};
use executor::runtime::ProcessRuntime;
use executor::{Executor, ExecutorConfig};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Execute queued runs from SQS with the local process runtime"
)]
struct Args {
    /// Where agents' crew directories are created.
    #[arg(long, env = "CREWSHIP_WORK_DIR", default_value = "./crewship-work")]
    work_dir: PathBuf,
    /// How long a claim stays valid without a heartbeat, in milliseconds.
    #[arg(long, env = "CREWSHIP_LEASE_MS", default_value_t = 30_000)]
    lease_ms: u64,
    /// Heartbeat interval in milliseconds.
    #[arg(long, env = "CREWSHIP_HEARTBEAT_MS", default_value_t = 1_000)]
    heartbeat_ms: u64,
    /// Every run's deadline, in seconds.
    #[arg(long, env = "CREWSHIP_RUN_TIMEOUT_SECS", default_value_t = 600)]
    run_timeout_secs: u64,
    /// Runs executing at once.
    #[arg(long, env = "CREWSHIP_MAX_CONCURRENT_RUNS", default_value_t = 8)]
    max_concurrent_runs: usize,
    /// Longest long-poll wait, in seconds (SQS allows up to 20).
    #[arg(long, env = "CREWSHIP_POLL_WAIT_SECS", default_value_t = 5)]
    poll_wait_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handler::telemetry::init_tracing(handler::telemetry::LogFormat::Human);
    let args = Args::parse();
    let built = build_ports(&Backends::from_env()?).await;
    let config = ExecutorConfig {
        lease: Duration::from_millis(args.lease_ms),
        heartbeat: Duration::from_millis(args.heartbeat_ms),
        run_timeout: Duration::from_secs(args.run_timeout_secs),
        max_concurrent_runs: args.max_concurrent_runs,
        poll_wait: Duration::from_secs(args.poll_wait_secs),
        ..ExecutorConfig::default()
    };
    tracing::info!(owner = %config.owner, "executor started");
    let runtime = Arc::new(ProcessRuntime::new(&args.work_dir));
    let executor = Arc::new(Executor::new(built.ports, runtime, config));
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    executor.run_until_stopped(stop).await;
    tracing::info!("executor stopped");
    Ok(())
}

async fn stop_on_signal(stop: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    stop.cancel();
}
