//! `local-runner`: the webhook handler and the executor in one process, on in-memory adapters
//! and local processes. With no arguments it starts the embedded demo configuration.
//!
//! - `config`: the TOML file, environment variables and flags.
//! - `serve`: wiring the ports and running handler and executor until Ctrl-C / SIGTERM.
//! - `trigger`: a client that signs and sends a webhook.
//! - `client`: `agents …` and `secret rotate`, clients of any deployment's management API.
//! - `keeper`: the Keeper server (docs/keeper.md) over the local process runtime.

mod client;
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
    /// Sign and send a webhook to an agent, and print the run id.
    Trigger(trigger::TriggerArgs),
    /// Register, show, list and delete agents of a deployment (needs its internal token).
    Agents(client::agents::AgentsArgs),
    /// Rotate an agent's webhook secret (needs a monitoring token of its workspace).
    Secret(client::secret::SecretArgs),
    /// Serve the Keeper protocol on top of local processes.
    Keeper(keeper::KeeperArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    handler::telemetry::init_tracing(handler::telemetry::LogFormat::parse(&cli.log_format));
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::serve(settings(cli.config, &cli.overrides)?).await,
        Command::Trigger(args) => trigger::run(&settings(cli.config, &cli.overrides)?, args).await,
        Command::Agents(args) => client::agents::run(args).await,
        Command::Secret(args) => client::secret::run(args).await,
        Command::Keeper(args) => keeper::run(&settings(cli.config, &cli.overrides)?, args).await,
    }
}

fn settings(
    file: Option<PathBuf>,
    overrides: &config::Overrides,
) -> anyhow::Result<config::Settings> {
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
        None => config::DEFAULT_CONFIG.to_owned(),
    };
    Ok(config::Settings::resolve(
        config::parse_file(&text)?,
        overrides,
    )?)
}
