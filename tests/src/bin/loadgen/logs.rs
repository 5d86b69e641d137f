//! `loadgen logs`: one webhook to an agent that prints many lines; the time until the run is
//! finished and every line can be read back from the logs API.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::wire::Target;

#[derive(clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    target: Target,
    /// The lines the agent prints (the test reads back that the last one arrived).
    #[arg(long, default_value_t = 1_000_000)]
    lines: u64,
}

pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let run_id = args.target.trigger(&http, "bench-logs").await?;
    let get = |path: String| {
        let (http, token, base) = (
            http.clone(),
            args.target.token.clone(),
            args.target.base.clone(),
        );
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
            args.target.agent
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
