//! `loadgen ws`: a `/ws` subscriber watches one run of an agent that prints many lines; the
//! time from the webhook until the subscriber has every line and the run's final frame.
//!
//! The server drops a subscriber that falls too far behind (`docs/monitoring.md`: a slow consumer
//! never slows the executor). This client then does what a real one should: it reconnects and
//! resumes the run after the last `seq` it has. "None lost" is checked strictly: the run's
//! entries must arrive as 1, 2, 3, … with no gap; a repeat (possible only across a resume) is
//! counted, not added.

use std::time::Instant;

use anyhow::{Context, bail};
use e2e_tests::ws::{WsClient, seq_of};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::wire::Target;

#[derive(clap::Args)]
pub struct WsArgs {
    #[command(flatten)]
    target: Target,
    /// The workspace the token belongs to.
    #[arg(long)]
    workspace: String,
    /// The lines the agent prints.
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
}

/// What the subscriber has of the run so far.
#[derive(Default)]
struct Received {
    /// The highest `seq` received with nothing missing below it.
    last_seq: u64,
    stdout_lines: u64,
    repeated: u64,
    reconnects: u64,
}

impl Received {
    fn entry(&mut self, seq: u64, stdout: bool) -> anyhow::Result<()> {
        if seq <= self.last_seq {
            self.repeated += 1;
            return Ok(());
        }
        if seq != self.last_seq + 1 {
            bail!("entries {}..{seq} never arrived", self.last_seq + 1);
        }
        self.last_seq = seq;
        self.stdout_lines += u64::from(stdout);
        Ok(())
    }
}

async fn subscribe(args: &WsArgs, resume: Option<(&str, u64)>) -> anyhow::Result<WsClient> {
    let url = format!("{}/ws", args.target.base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", args.target.token).parse()?,
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    let mut client = WsClient { socket };
    client.subscribe(&args.workspace, resume).await?;
    Ok(client)
}

pub async fn ws(args: WsArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    // Subscribed before the webhook, so the live stream has the run from its first frame.
    let mut client = subscribe(&args, None).await?;
    let started = Instant::now();
    let run_id = args.target.trigger(&http, "bench-ws").await?;
    let mut got = Received::default();
    let final_frame = loop {
        let Some(frame) = client.next().await? else {
            got.reconnects += 1;
            if got.reconnects > 1_000 {
                bail!("dropped more than 1,000 times; giving up");
            }
            client = subscribe(&args, Some((&run_id, got.last_seq))).await?;
            continue;
        };
        let payload = &frame["payload"];
        let about = payload["run_id"].as_str().or(payload["id"].as_str());
        if about != Some(run_id.as_str()) {
            continue;
        }
        if let Some(seq) = seq_of(&frame) {
            got.entry(seq, payload["stream"] == "stdout")?;
        } else if matches!(frame["type"].as_str(), Some("run.completed" | "run.failed")) {
            break frame;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let status = final_frame["payload"]["status"]
        .as_str()
        .context("no status")?;
    println!(
        "{}",
        json!({
            "label": "ws",
            "lines_printed": args.lines,
            "agent_lines_received": got.stdout_lines,
            "entries_received": got.last_seq,
            "repeated_across_resumes": got.repeated,
            "reconnects": got.reconnects,
            "run_status": status,
            "seconds_to_final_frame": seconds,
            "lines_per_second": args.lines as f64 / seconds,
        })
    );
    if status != "COMPLETED" {
        bail!("the run ended {status}");
    }
    if got.stdout_lines != args.lines {
        bail!("{} of {} lines were received", got.stdout_lines, args.lines);
    }
    Ok(())
}
