//! `local-runner keeper`: serves the Keeper protocol (docs/keeper.md) on top of a local runtime
//! (`--runtime process|sandbox`, docs/runtimes.md), one working directory per crew under the
//! configured `work_dir`.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use crewship_core::runtime::ContainerRuntime;
use crewship_core::secret::Secret;
use executor::runtime::{ProcessRuntime, SandboxRuntime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

#[derive(Debug, Args)]
pub struct KeeperArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(
        long = "listen",
        id = "keeper_listen",
        default_value = "127.0.0.1:7070"
    )]
    pub listen: SocketAddr,
    /// Bearer token clients must present.
    #[arg(
        long = "token",
        id = "keeper_server_token",
        env = "CREWSHIP_KEEPER_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// Where the agents run: `sandbox` (bubblewrap) or `process` (no isolation).
    #[arg(
        long = "runtime",
        id = "keeper_runtime",
        value_enum,
        default_value = "process"
    )]
    pub runtime: LocalRuntime,
}

/// The local runtimes Keeper can serve.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LocalRuntime {
    Process,
    Sandbox,
}

pub async fn run(settings: &Settings, args: KeeperArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.token.is_empty(), "the Keeper token is empty");
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let runtime: Arc<dyn ContainerRuntime> = match args.runtime {
        LocalRuntime::Process => Arc::new(ProcessRuntime::new(&settings.work_dir)),
        LocalRuntime::Sandbox => Arc::new(SandboxRuntime::new(&settings.work_dir)?),
    };
    // The harness reads this line to learn the port; the token is never printed.
    println!("keeper listening on http://{addr}");
    println!("agents run in: {}", runtime.describe());
    tracing::info!(%addr, runtime = %runtime.describe(), "keeper started");
    let stop = CancellationToken::new();
    tokio::spawn(crate::serve::wait_for_signal(stop.clone()));
    // The same connection limits as the webhook server's (docs/keeper.md).
    let router = executor::keeper::server::router(runtime, Secret::new(args.token));
    handler::serve(
        listener,
        router,
        settings.limits.clone(),
        stop.cancelled_owned(),
    )
    .await?;
    tracing::info!("keeper stopped");
    Ok(())
}
