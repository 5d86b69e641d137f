//! `loadgen ws-memory`: what `/ws` connections cost the server, read off its resident memory
//! (`/proc/<pid>/status`, same machine). Three phases: N connections that have not
//! authenticated yet; the same N authenticated and subscribed, idle; then, on one connection,
//! many subscribe/unsubscribe cycles, which must leave nothing behind.

use std::time::Duration;

use anyhow::{Context, bail};
use e2e_tests::ws::WsClient;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(clap::Args)]
pub struct WsMemoryArgs {
    /// The runner's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base: String,
    /// The runner's pid, whose resident memory is read.
    #[arg(long)]
    pid: u32,
    #[arg(long)]
    token: String,
    #[arg(long)]
    workspace: String,
    #[arg(long, default_value_t = 2_000)]
    connections: usize,
    #[arg(long, default_value_t = 30_000)]
    cycles: usize,
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// Resident memory once the server has settled (allocations of the last phase done).
async fn settled_rss(pid: u32) -> anyhow::Result<u64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    rss_kib(pid)
}

async fn connect(base: &str) -> anyhow::Result<WsClient> {
    let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    let (socket, _) = tokio_tungstenite::connect_async(url.into_client_request()?).await?;
    Ok(WsClient { socket })
}

pub async fn ws_memory(args: WsMemoryArgs) -> anyhow::Result<()> {
    let before = settled_rss(args.pid).await?;
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        clients.push(connect(&args.base).await?);
    }
    let unauthenticated = settled_rss(args.pid).await?;
    for client in &mut clients {
        client
            .send_json(json!({"type": "auth", "token": args.token}))
            .await?;
        let reply = client.next().await?.context("closed before auth")?;
        if reply["type"] != "authenticated" {
            bail!("auth answered {reply}");
        }
        client.subscribe(&args.workspace, None).await?;
    }
    let subscribed = settled_rss(args.pid).await?;
    let channel = format!("workspace:{}", args.workspace);
    let cycler = &mut clients[0];
    let before_cycles = settled_rss(args.pid).await?;
    for _ in 0..args.cycles {
        cycler
            .send_json(json!({"type": "unsubscribe", "channel": channel}))
            .await?;
        cycler.next().await?.context("closed while cycling")?;
        cycler
            .send_json(json!({"type": "subscribe", "channel": channel}))
            .await?;
        cycler.next().await?.context("closed while cycling")?;
    }
    let after_cycles = settled_rss(args.pid).await?;
    let per = |after: u64| (after.saturating_sub(before)) as f64 / args.connections as f64;
    println!(
        "{}",
        json!({
            "label": "ws_memory",
            "connections": args.connections,
            "rss_before_kib": before,
            "per_unauthenticated_kib": per(unauthenticated),
            "per_subscribed_kib": per(subscribed),
            "cycles": args.cycles,
            "kept_by_cycles_kib": after_cycles as i64 - before_cycles as i64,
        })
    );
    Ok(())
}
