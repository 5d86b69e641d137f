//! Load generator for `bench/run.sh`: every request a distinct, correctly signed webhook, so the
//! deduplication of SPEC §1.4 never turns two requests into one delivery. Prints one JSON line
//! per measurement.
//!
//! - `http`: N connections (hyper, keep-alive), for a duration or a request count, optionally
//!   rate-limited; requests/s and latency percentiles.
//! - `start`: one webhook at a time; the time from the `202` to the agent's first action: the
//!   agent writes `date +%s%N` to a file named after the marker in its message (same machine,
//!   same clock; the `date` exec itself is included, about 1 ms).
//! - `logs`: one webhook to an agent that prints many lines; the time until the run is finished
//!   and every line can be read back from the logs API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

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
}

#[derive(clap::Args, Clone)]
struct HttpArgs {
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

#[derive(clap::Args)]
struct StartArgs {
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

#[derive(clap::Args)]
struct LogsArgs {
    /// The runner's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base: String,
    #[arg(long)]
    crew: String,
    #[arg(long)]
    agent: String,
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123456789abcdef")]
    secret: String,
    #[arg(long)]
    token: String,
    /// The lines the agent prints (the test reads back that the last one arrived).
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Http(args) => http(args).await,
        Command::Start(args) => start(args).await,
        Command::Logs(args) => logs(args).await,
    }
}

/// A 1 KiB (or `size`) JSON body unique to `n`.
fn body(n: u64, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"event":"bench","source":"loadgen","data":{{"n":{n},"pad":""#);
    let tail = "\"}}";
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    body.resize(body.len() + pad, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

fn signed(uri: &hyper::Uri, secret: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    let signature = hex::encode(e2e_tests::hmac_sha256(secret.as_bytes(), &[&body]));
    Request::post(uri.clone())
        .header("host", uri.authority().map_or("localhost", |a| a.as_str()))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(Full::new(Bytes::from(body)))
        .expect("valid request")
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(uri: &hyper::Uri) -> anyhow::Result<Sender> {
    let addr = format!(
        "{}:{}",
        uri.host().context("URL without host")?,
        uri.port_u16().unwrap_or(80)
    );
    let stream = TcpStream::connect(addr).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request and returns its status and body.
async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn http(args: HttpArgs) -> anyhow::Result<()> {
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

async fn start(args: StartArgs) -> anyhow::Result<()> {
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

async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/webhooks/{}/{}/trigger",
        args.base, args.crew, args.agent
    );
    let body = r#"{"event":"bench-logs"}"#;
    let signature = hex::encode(e2e_tests::hmac_sha256(
        args.secret.as_bytes(),
        &[body.as_bytes()],
    ));
    let started = Instant::now();
    let answer: Value = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let run_id = answer["run_id"].as_str().context("no run id")?.to_owned();
    let get = |path: String| {
        let (http, token, base) = (http.clone(), args.token.clone(), args.base.clone());
        async move {
            let value: Value = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(value)
        }
    };
    loop {
        let run = get(format!("/api/v1/runs/{run_id}")).await?;
        match run["status"].as_str() {
            Some("QUEUED" | "RUNNING") => {}
            Some("COMPLETED") => break,
            other => bail!("the log run ended {other:?}: {run}"),
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the log run did not finish within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = started.elapsed().as_secs_f64();
    // The number of stored entries: the smallest `after` with nothing after it (seqs are 1..=n).
    let logs_path = |after: u64| {
        format!(
            "/api/v1/agents/{}/logs?run_id={run_id}&after={after}&limit=1000",
            args.agent
        )
    };
    let (mut low, mut high) = (0u64, 1u64);
    while !get(logs_path(high))
        .await?
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        low = high;
        high *= 2;
    }
    while high - low > 1 {
        let mid = (low + high) / 2;
        if get(logs_path(mid))
            .await?
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            high = mid;
        } else {
            low = mid;
        }
    }
    let stored = high;
    // Every agent line, read back page by page.
    let mut agent_lines = 0u64;
    let mut after = 0u64;
    let mut last_line = String::new();
    loop {
        let page = get(logs_path(after)).await?;
        let entries = page.as_array().cloned().unwrap_or_default();
        let Some(last) = entries.last() else { break };
        after = last["seq"].as_u64().context("entry without seq")?;
        for entry in &entries {
            if entry["stream"] == "stdout" {
                agent_lines += 1;
                last_line = entry["content"].as_str().unwrap_or("").to_owned();
            }
        }
    }
    println!(
        "{}",
        json!({
            "label": "logs",
            "lines_printed": args.lines,
            "agent_lines_stored": agent_lines,
            "entries_stored": stored,
            "last_line": last_line,
            "seconds_to_completed": finished,
            "lines_per_second": args.lines as f64 / finished,
        })
    );
    if agent_lines != args.lines {
        bail!("{} of {} lines were stored", agent_lines, args.lines);
    }
    Ok(())
}
