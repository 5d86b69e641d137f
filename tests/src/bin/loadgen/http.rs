//! `loadgen http`: N keep-alive connections for a duration or a request count, optionally
//! rate-limited; requests/s and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use crate::wire::{body, connect, percentile, send, signed};

#[derive(clap::Args, Clone)]
pub struct HttpArgs {
    /// Full trigger URL, e.g. http://127.0.0.1:8080/api/v1/webhooks/crew/agent/trigger.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123456789abcdef")]
    secret: String,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds to run (ignored when --requests is set).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests in total.
    #[arg(long)]
    requests: Option<u64>,
    /// Total requests per second (0: as fast as the server answers).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Size of each JSON body in bytes.
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// Label for the output line.
    #[arg(long, default_value = "http")]
    label: String,
}

pub async fn http(args: HttpArgs) -> anyhow::Result<()> {
    let uri: hyper::Uri = args.url.parse()?;
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    // Each connection sends at rate/connections per second, on its own schedule.
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut workers = Vec::new();
    for c in 0..args.connections {
        let (uri, counter, args) = (uri.clone(), counter.clone(), args.clone());
        workers.push(tokio::spawn(async move {
            let mut sender = connect(&uri).await?;
            let mut latencies = Vec::new();
            let mut statuses = [0u64; 6];
            let mut ticker = interval.map(|every| {
                let offset = every.mul_f64(c as f64 / args.connections as f64);
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            loop {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match args.requests {
                    Some(limit) if n >= limit => break,
                    None if Instant::now() >= deadline => break,
                    _ => {}
                }
                let request = signed(&uri, &args.secret, body(n, args.body_bytes));
                let sent = Instant::now();
                let (status, _) = send(&mut sender, request).await?;
                latencies.push(sent.elapsed().as_micros() as u64);
                statuses[usize::from(status / 100).min(5)] += 1;
            }
            anyhow::Ok((latencies, statuses))
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = [0u64; 6];
    for worker in workers {
        let (l, s) = worker.await??;
        latencies.extend(l);
        for (total, n) in statuses.iter_mut().zip(s) {
            *total += n;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    println!(
        "{}",
        json!({
            "label": args.label,
            "requests": requests,
            "seconds": elapsed,
            "rps": requests as f64 / elapsed,
            "p50_us": percentile(&latencies, 0.50),
            "p99_us": percentile(&latencies, 0.99),
            "max_us": latencies.last().copied().unwrap_or(0),
            "status_2xx": statuses[2],
            "status_4xx": statuses[4],
            "status_5xx": statuses[5],
        })
    );
    if statuses[2] != requests {
        bail!(
            "{} of {requests} requests were not answered 2xx",
            requests - statuses[2]
        );
    }
    Ok(())
}
