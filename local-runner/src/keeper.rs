//! `local-runner keeper`: serves the Keeper protocol (docs/keeper.md) on top of a local runtime
//! (`--runtime process|sandbox|docker`, docs/runtimes.md), one working directory per crew under the
//! configured `work_dir`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use crewship_core::runtime::ContainerRuntime;
use crewship_core::secret::Secret;
use executor::runtime::{DockerRuntime, ProcessRuntime, SandboxRuntime};
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
    /// PEM certificate chain: serve HTTPS (with `--tls-key`).
    #[arg(
        long = "tls-cert",
        id = "keeper_tls_cert",
        env = "CREWSHIP_KEEPER_TLS_CERT",
        requires = "keeper_tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(
        long = "tls-key",
        id = "keeper_tls_key",
        env = "CREWSHIP_KEEPER_TLS_KEY",
        requires = "keeper_tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
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
    /// A container per crew on the Docker Engine (`executor.docker_*` settings).
    Docker,
}

pub async fn run(settings: &Settings, args: KeeperArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.token.is_empty(), "the Keeper token is empty");
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let runtime: Arc<dyn ContainerRuntime> = match args.runtime {
        LocalRuntime::Process => Arc::new(ProcessRuntime::new(&settings.work_dir)),
        LocalRuntime::Sandbox => Arc::new(SandboxRuntime::new(&settings.work_dir)?),
        LocalRuntime::Docker => {
            let mut options = settings.model.executor.docker()?;
            options.work_dir = settings.work_dir.clone();
            Arc::new(DockerRuntime::new(options)?)
        }
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(executor::keeper::tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The harness reads this line to learn the port; the token is never printed.
    println!("keeper listening on {scheme}://{addr}");
    println!("agents run in: {}", runtime.describe());
    if tls.is_none() && !addr.ip().is_loopback() {
        // Clients refuse such a URL (docs/keeper.md); say why before the first one does.
        println!(
            "  warning: plain HTTP on a non-loopback address carries the bearer token in clear; \
             serve HTTPS with --tls-cert and --tls-key"
        );
    }
    tracing::info!(%addr, runtime = %runtime.describe(), "keeper started");
    let stop = CancellationToken::new();
    tokio::spawn(crate::serve::wait_for_signal(stop.clone()));
    // The same connection limits as the webhook server's (docs/keeper.md).
    let router = executor::keeper::server::router(runtime, Secret::new(args.token));
    let limits = settings.limits.clone();
    match tls {
        None => handler::serve(listener, router, limits, stop.cancelled_owned()).await?,
        Some(tls) => {
            handler::serve_tls(listener, router, limits, tls, stop.cancelled_owned()).await?;
        }
    }
    tracing::info!("keeper stopped");
    Ok(())
}
