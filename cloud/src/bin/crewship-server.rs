//! `crewship-server`: the webhook handler's router as a plain HTTP server, on the adapters the
//! settings choose (docs/configuration.md). Prints `listening on http://ADDR` on stdout once
//! bound. The Lambda entry point serves the same router.

use clap::Parser;
use crewship_aws::config::{Backends, build_ports};
use crewship_settings::{Bin, File, Flags, ForBin};
use handler::{AppState, ConnectionLimits, HandlerConfig, Prerequisites};
use tokio_util::sync::CancellationToken;

struct ThisBin;
impl ForBin for ThisBin {
    const BIN: Bin = Bin::Server;
}

#[derive(Debug, Parser)]
#[command(version, about = "Serve the webhook handler over plain HTTP")]
struct Args {
    #[command(flatten)]
    settings: Flags<ThisBin>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Args::parse().settings.load(File::None)?;
    crewship_cloud::init_tracing(settings.log.format);
    let limits = ConnectionLimits::from_settings(&settings.server)?;
    let built = build_ports(&Backends::from_settings(&settings)?).await;
    let tokens = settings.tokens()?.into_iter().map(|t| t.token).collect();
    let config = HandlerConfig::from_settings(
        &settings,
        tokens,
        Prerequisites {
            orchestrator: Some(built.registry_name),
            container_runtime: settings.server.container_runtime.clone(),
            log_writer: Some(built.log_writer_name),
        },
    );
    let state = AppState::new(built.ports, config, Some(built.hub));
    let listener = tokio::net::TcpListener::bind(settings.server.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    tokio::spawn(crewship_cloud::stop_on_signal(stop.clone()));
    handler::serve(
        listener,
        handler::router(state),
        limits,
        stop.cancelled_owned(),
    )
    .await?;
    Ok(())
}
