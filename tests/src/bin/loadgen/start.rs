//! `loadgen start`: one webhook at a time; the time from the `202` to the agent's first action:
//! the agent writes `date +%s%N` to a file named after the marker in its message (same machine,
//! same clock; the `date` exec itself is included, about 1 ms).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use serde_json::json;

use crate::wire::{connect, percentile, send, signed};

#[derive(clap::Args)]
pub struct StartArgs {
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123456789abcdef")]
    secret: String,
    #[arg(long, default_value_t = 1000)]
    runs: u64,
    /// The directory where the agent writes its start time (ns) to `start-<marker>`.
    #[arg(long)]
    dir: PathBuf,
}

pub async fn start(args: StartArgs) -> anyhow::Result<()> {
    let uri: hyper::Uri = args.url.parse()?;
    let mut sender = connect(&uri).await?;
    let mut delays = Vec::with_capacity(args.runs as usize);
    for n in 0..args.runs {
        let body = format!(r#"{{"event":"bench","data":{{"marker":"mark-{n}-end"}}}}"#);
        let request = signed(&uri, &args.secret, body.into_bytes());
        let (status, answer) = send(&mut sender, request).await?;
        let accepted_at = SystemTime::now();
        if status != 202 {
            bail!(
                "run {n}: answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        let file = args.dir.join(format!("start-{n}"));
        let waited = Instant::now();
        let started_ns: u128 = loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Ok(ns) = text.trim().parse()
            {
                break ns;
            }
            if waited.elapsed() > Duration::from_secs(60) {
                bail!("run {n}: the agent did not start within 60 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        let accepted_ns = accepted_at.duration_since(UNIX_EPOCH)?.as_nanos();
        // The agent can start before the client has read the whole answer: count that as 0.
        let delay = Duration::from_nanos(started_ns.saturating_sub(accepted_ns) as u64);
        delays.push(delay.as_micros() as u64);
    }
    delays.sort_unstable();
    println!(
        "{}",
        json!({
            "label": "agent_start",
            "runs": delays.len(),
            "p50_us": percentile(&delays, 0.50),
            "p99_us": percentile(&delays, 0.99),
            "max_us": delays.last().copied().unwrap_or(0),
        })
    );
    Ok(())
}
