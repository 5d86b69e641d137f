//! Load generator for `bench/run.sh`: every request a distinct, correctly signed webhook, so the
//! deduplication of `docs/webhooks.md` never turns two requests into one delivery. Prints one JSON
//! line per measurement.
//!
//! - `http`: N connections (hyper, keep-alive), for a duration or a request count, optionally
//!   rate-limited; requests/s and latency percentiles.
//! - `start`: one webhook at a time; the time from the `202` to the agent's first action: the
//!   agent writes `date +%s%N` to a file named after the marker in its message (same machine,
//!   same clock; the `date` exec itself is included, about 1 ms).
//! - `logs`: one webhook to an agent that prints many lines; the time until the run is finished
//!   and every line can be read back from the logs API.
//! - `ws`: the same agent watched over `/ws`: the time until a subscriber has every line.
//! - `ws-memory`: the server's resident memory per idle `/ws` connection, before and after
//!   authentication, and what subscribe/unsubscribe cycles leave behind.

mod http;
mod logs;
mod start;
mod wire;
mod ws;
mod ws_memory;

use clap::{Parser, Subcommand};
use http::{HttpArgs, http};
use logs::{LogsArgs, logs};
use start::{StartArgs, start};
use ws::{WsArgs, ws};
use ws_memory::{WsMemoryArgs, ws_memory};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Http(HttpArgs),
    Start(StartArgs),
    Logs(LogsArgs),
    Ws(WsArgs),
    WsMemory(WsMemoryArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Http(args) => http(args).await,
        Command::Start(args) => start(args).await,
        Command::Logs(args) => logs(args).await,
        Command::Ws(args) => ws(args).await,
        Command::WsMemory(args) => ws_memory(args).await,
    }
}
