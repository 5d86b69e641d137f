//! `crewship-server`: the webhook handler's router as a plain HTTP server, on the adapters the
//! environment chooses (see `crewship_aws::config`). Prints `listening on http://ADDR` on
//! stdout once bound. The Lambda entry point serves the same router.

use std::net::SocketAddr;

use clap::Parser;
use crewship_aws::config::{Backends, build_ports, parse_api_tokens};
use crewship_core::secret::Secret;
use handler::{AppState, ConnectionLimits, HandlerConfig, Prerequisites};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(version, about = "Serve the webhook handler over plain HTTP")]
struct Args {
    #[arg(long, env = "CREWSHIP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The internal API token (`X-Internal-Token`).
    #[arg(long, env = "CREWSHIP_INTERNAL_TOKEN", hide_env_values = true)]
    internal_token: String,
    /// Monitoring tokens as `workspace=token`, comma-separated.
    #[arg(
        long,
        env = "CREWSHIP_API_TOKENS",
        hide_env_values = true,
        default_value = ""
    )]
    api_tokens: String,
    /// What executes the runs, as the prerequisites report it.
    #[arg(
        long,
        env = "CREWSHIP_CONTAINER_RUNTIME",
        default_value = "executor via queue"
    )]
    container_runtime: String,
    /// Seconds a client may take to send a request's line and headers.
    #[arg(long, env = "CREWSHIP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a client may take to send a whole request body.
    #[arg(long, env = "CREWSHIP_BODY_TIMEOUT_SECS", default_value_t = 30)]
    body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "CREWSHIP_IDLE_TIMEOUT_SECS", default_value_t = 5)]
    idle_timeout_secs: u64,
    /// Largest request line plus headers in bytes (larger is 431).
    #[arg(long, env = "CREWSHIP_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    max_header_bytes: usize,
    /// Open connections at most (kept below the open-files limit).
    #[arg(long, env = "CREWSHIP_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
}

impl Args {
    fn limits(&self) -> anyhow::Result<ConnectionLimits> {
        let secs = std::time::Duration::from_secs;
        let limits = ConnectionLimits {
            header_read_timeout: secs(self.header_read_timeout_secs),
            body_timeout: secs(self.body_timeout_secs),
            idle_timeout: secs(self.idle_timeout_secs),
            max_header_bytes: self.max_header_bytes,
            max_connections: self.max_connections,
        };
        limits
            .validate()
            .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
        Ok(limits)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handler::telemetry::init_tracing(handler::telemetry::LogFormat::Human);
    let args = Args::parse();
    let limits = args.limits()?;
    let built = build_ports(&Backends::from_env()?).await;
    let mut config = HandlerConfig::new(
        Some(Secret::new(args.internal_token)),
        Prerequisites {
            orchestrator: Some(built.registry_name),
            container_runtime: Some(args.container_runtime),
            log_writer: Some(built.log_writer_name),
        },
    );
    config.tokens = parse_api_tokens(&args.api_tokens)?;
    let state = AppState::new(built.ports, config, Some(built.hub));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    handler::serve(
        listener,
        handler::router(state),
        limits,
        stop.cancelled_owned(),
    )
    .await?;
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
