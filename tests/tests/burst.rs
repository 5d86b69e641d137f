//! Bursts of signed webhooks against the real binary: nothing lost, nothing run twice. Bounded
//! in count (10,000 requests each) and in time (generous deadlines, no timing assertions).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use e2e_tests::burst::{Delivery, send_all, wait_all_terminal};
use e2e_tests::{Runner, SECRET, TOKEN};

const REQUESTS: usize = 10_000;
const CONNECTIONS: usize = 100;
const AGENTS: usize = 4;
const LIMIT: Duration = Duration::from_secs(600);

/// Several agents that each run a few at once; each appends the marker from its message to one
/// file (appends of a short line with O_APPEND do not interleave).
fn config(markers: &Path) -> String {
    let mut text = format!(
        r#"
[executor]
max_concurrent_runs = 8

# Every run is read back after the burst: none may be swept first.
[retention]
max_runs_per_agent = 1000000

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"
"#
    );
    for n in 0..AGENTS {
        text.push_str(&format!(
            r#"
[[agents]]
id = "burst{n}"
crew_id = "crew"
workspace_id = "ws"
rate_limit_per_min = 1000000
max_queued_runs = 100000
max_concurrent_runs = 4
command = ["sh", "-c", "m=${{CREWSHIP_MESSAGE#*mark-}}; echo \"mark-${{m%%[!0-9]*}}\" >> '{}'"]
webhook_secret = "{SECRET}"
"#,
            markers.display()
        ));
    }
    text
}

fn delivery(i: usize) -> Delivery {
    Delivery::new(
        "crew",
        &format!("burst{}", i % AGENTS),
        SECRET,
        format!("mark-{i}"),
    )
}

/// Sends `deliveries`, waits for every run, and checks: no 5xx, every answer 202, one run id per
/// distinct delivery (re-sends answer the original's id), every run COMPLETED, and every distinct
/// delivery's agent ran exactly once.
async fn burst_runs_each_delivery_once(deliveries: Vec<Delivery>) {
    let markers = tempfile::NamedTempFile::new().unwrap();
    let runner = Runner::start(&config(markers.path())).unwrap();
    let started = Instant::now();

    let answers = send_all(&runner.base, deliveries.clone(), CONNECTIONS)
        .await
        .unwrap();
    let sent = started.elapsed();
    let server_errors = answers.iter().filter(|a| a.status >= 500).count();
    assert_eq!(server_errors, 0, "5xx answers in the burst");
    let refused: Vec<_> = answers.iter().filter(|a| a.status != 202).collect();
    assert!(
        refused.is_empty(),
        "not accepted: {:?}",
        &refused[..refused.len().min(5)]
    );

    let mut run_of_marker: HashMap<&str, &str> = HashMap::new();
    for (d, a) in deliveries.iter().zip(&answers) {
        let run_id = a.run_id.as_deref().expect("202 names its run");
        let first = *run_of_marker.entry(&d.marker).or_insert(run_id);
        assert_eq!(first, run_id, "{} answered two run ids", d.marker);
    }
    let distinct = run_of_marker.len();
    let run_ids: HashSet<&str> = run_of_marker.values().copied().collect();
    assert_eq!(run_ids.len(), distinct, "two deliveries share a run");
    let replayed = answers.iter().filter(|a| a.replayed).count();
    assert_eq!(
        replayed,
        deliveries.len() - distinct,
        "re-sends not replayed"
    );

    let ids: Vec<String> = run_ids.iter().map(|s| s.to_string()).collect();
    let runs = wait_all_terminal(&runner.base, TOKEN, &ids, 32, LIMIT)
        .await
        .unwrap();
    let not_completed: Vec<_> = runs
        .values()
        .filter(|r| r["status"] != "COMPLETED")
        .take(5)
        .collect();
    assert!(not_completed.is_empty(), "{not_completed:?}");

    let text = std::fs::read_to_string(markers.path()).unwrap();
    let mut executed: HashMap<&str, usize> = HashMap::new();
    for line in text.lines() {
        *executed.entry(line).or_default() += 1;
    }
    let twice: Vec<_> = executed.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(twice.is_empty(), "agents ran more than once: {twice:?}");
    let expected: HashSet<&str> = run_of_marker.keys().copied().collect();
    let seen: HashSet<&str> = executed.keys().copied().collect();
    assert_eq!(
        seen, expected,
        "executed markers differ from accepted deliveries"
    );
    eprintln!(
        "burst: {} requests, {distinct} runs: sent in {sent:?}, all completed after {:?}",
        deliveries.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_distinct_webhooks_each_run_exactly_once() {
    let deliveries = (0..REQUESTS).map(delivery).collect();
    burst_runs_each_delivery_once(deliveries).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_with_ten_percent_resent_deliveries_runs_each_delivery_once() {
    // Every tenth request re-sends an earlier delivery (same key, same body, same signature),
    // some long after, some right behind the original.
    let distinct = REQUESTS - REQUESTS / 10;
    let mut deliveries: Vec<Delivery> = Vec::with_capacity(REQUESTS);
    let mut next = 0;
    for i in 0..REQUESTS {
        if i % 10 == 9 {
            let back = if i % 20 == 9 { 1 } else { i / 2 };
            deliveries.push(deliveries[deliveries.len() - back].clone());
        } else {
            deliveries.push(delivery(next));
            next += 1;
        }
    }
    assert_eq!(next, distinct);
    burst_runs_each_delivery_once(deliveries).await;
}
