//! `local-runner`: the webhook handler and the executor in one process, on in-memory adapters
//! and local processes. With no arguments it starts the embedded demo configuration.
//!
//! - `config`: the TOML file, environment variables and flags.
//! - `serve`: wiring the ports and running handler and executor until Ctrl-C / SIGTERM.
//! - `trigger`: a client that signs and sends a webhook.
//! - `keeper`: the Keeper server (docs/keeper.md) over the local process runtime.

mod config;
mod keeper;
mod serve;
mod trigger;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run the webhook service locally: handler + executor in one process"
)]
struct Cli {
    /// TOML configuration file (SPEC §7); the embedded demo configuration when absent.
    #[arg(long, global = true, env = "CREWSHIP_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(
        long,
        global = true,
        env = "CREWSHIP_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: String,
    #[command(flatten)]
    overrides: config::Overrides,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default when no subcommand is given).
    Serve,
    /// Sign and send a webhook to a configured agent, and print the run id.
    Trigger(trigger::TriggerArgs),
    /// Serve the Keeper protocol on top of local processes.
    Keeper(keeper::KeeperArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    let text = match &cli.config {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
        None => config::DEFAULT_CONFIG.to_owned(),
    };
    let settings = config::Settings::resolve(config::parse_file(&text)?, &cli.overrides)?;
    match cli.command {
        None | Some(Command::Serve) => serve::serve(settings).await,
        Some(Command::Trigger(args)) => trigger::run(&settings, args).await,
        Some(Command::Keeper(args)) => keeper::run(&settings, args).await,
    }
}

fn init_tracing(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
