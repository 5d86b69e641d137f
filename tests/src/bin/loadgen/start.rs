//! `loadgen start`: one webhook at a time; the time from the `202` to the agent's first action:
//! the agent writes `date +%s%N` to a file named after the marker in its message (same machine,
//! same clock; the `date` exec itself is included, about 1 ms). With `--stamp mtime` the agent
//! only creates the file and its modification time is the start (images whose `date` has no
//! `%N`, e.g. busybox in the docker runtime's benchmark; a bind mount keeps the host's clock).

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
    /// Where the start time is: the file's `content` (ns since the epoch) or its `mtime`.
    #[arg(long, value_enum, default_value_t = Stamp::Content)]
    stamp: Stamp,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Stamp {
    Content,
    Mtime,
}

/// The agent's start time in ns since the epoch, once its file is there.
fn started_ns(file: &std::path::Path, stamp: Stamp) -> Option<u128> {
    match stamp {
        Stamp::Content => std::fs::read_to_string(file).ok()?.trim().parse().ok(),
        Stamp::Mtime => {
            let modified = std::fs::metadata(file).ok()?.modified().ok()?;
            Some(modified.duration_since(UNIX_EPOCH).ok()?.as_nanos())
        }
    }
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
            if let Some(ns) = started_ns(&file, args.stamp) {
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
