//! `local-runner`: the webhook handler and the executor in one process, on in-memory or SQLite
//! adapters and local processes. With no arguments it starts the embedded demo configuration.
//!
//! - `config`: the settings (docs/configuration.md) resolved for this binary.
//! - `serve`: wiring the ports and running handler and executor until Ctrl-C / SIGTERM.
//! - `store`: the store chosen from `[store]` (memory or SQLite), seeded with the configuration.
//! - `trigger`: a client that signs and sends a webhook.
//! - `client`: `agents …`, `secret rotate` and `runs replay`, clients of any deployment's management API.
//! - `keeper`: the Keeper server (docs/keeper.md) over the local process runtime.

mod client;
mod config;
mod keeper;
mod serve;
mod store;
mod trigger;

use clap::{Parser, Subcommand};

/// mimalloc (without transparent huge pages, which only inflated its resident memory) gives
/// freed memory back to the system: after a burst of 100,000 runs has finished and the
/// retention sweep has deleted them, the runner shrinks from 205 to 28 MiB, where the system
/// allocator kept its high-water mark (187 MiB) for good (docs/performance.md, memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run the webhook service locally: handler + executor in one process",
    after_help = "Every setting: docs/configuration.md. Precedence: flag, environment, file, default."
)]
struct Cli {
    #[command(flatten)]
    settings: config::Flags,
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
    /// Replay a run: its payload again, as a new run (needs a monitoring token of its workspace).
    Runs(client::runs::RunsArgs),
    /// Serve the Keeper protocol on top of local processes.
    Keeper(keeper::KeeperArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = config::load(&cli.settings)?;
    handler::telemetry::init_tracing(settings.model.log.format.into());
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::serve(settings).await,
        Command::Trigger(args) => trigger::run(&settings, args).await,
        Command::Agents(args) => client::agents::run(args).await,
        Command::Secret(args) => client::secret::run(args).await,
        Command::Runs(args) => client::runs::run(args).await,
        Command::Keeper(args) => keeper::run(&settings, args).await,
    }
}
