//! `crewship-executor`: a long-lived queue consumer running agents on the configured runtime
//! (local processes or Keeper), on the adapters the settings choose (docs/configuration.md),
//! and the delivery worker of the completion callbacks in the store's outbox. Stops on
//! SIGTERM / Ctrl-C, giving running agents their grace period.

use std::sync::Arc;

use clap::Parser;
use crewship_aws::config::{Backends, build_ports};
use crewship_settings::{Bin, File, Flags, ForBin};
use executor::callbacks::{CallbackConfig, CallbackWorker};
use executor::runtime::RuntimeBackend;
use executor::{Executor, ExecutorConfig};
use tokio_util::sync::CancellationToken;

struct ThisBin;
impl ForBin for ThisBin {
    const BIN: Bin = Bin::Executor;
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Execute queued runs from SQS (or memory) on the configured runtime"
)]
struct Args {
    #[command(flatten)]
    settings: Flags<ThisBin>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Args::parse().settings.load(File::None)?;
    crewship_cloud::init_tracing(settings.log.format);
    let built = build_ports(&Backends::from_settings(&settings)?).await;
    let config = ExecutorConfig::from_settings(&settings.executor);
    let runtime = RuntimeBackend::from(settings.executor.runtime()?).build()?;
    tracing::info!(owner = %config.owner, "executor started");
    let callbacks = Arc::new(CallbackWorker::new(
        built.ports.clone(),
        CallbackConfig::from_settings(&settings.server),
    ));
    let executor = Arc::new(Executor::new(built.ports, runtime, config));
    let stop = CancellationToken::new();
    tokio::spawn(crewship_cloud::stop_on_signal(stop.clone()));
    let callbacks_task = tokio::spawn(callbacks.run_until_stopped(stop.clone()));
    executor.run_until_stopped(stop).await;
    let _ = callbacks_task.await;
    tracing::info!("executor stopped");
    Ok(())
}
