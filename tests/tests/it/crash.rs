//! The SQLite store on the real binary, through a crash: a burst of signed webhooks to an agent
//! that records each execution in a file, SIGKILL in the middle, a restart on the same file.
//! Every run answered `202` ends terminal, none ran twice, the ones that had not started run
//! after the restart, a re-sent delivery answers its original run, an agent registered through
//! the API is still there, and a secret rotated before the crash is the only one accepted once
//! its grace period is over.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::{Runner, SECRET, TOKEN, post_signed as post, signal};
use serde_json::Value;
use tokio::sync::Mutex;

const BURST: u64 = 1_500;
/// SIGKILL once this many were answered `202`.
const KILL_AFTER: usize = 700;
const GRACE_SECS: u64 = 2;

fn config(exec_log: &Path) -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"
secret_rotation_grace_secs = {GRACE_SECS}

[executor]
max_concurrent_runs = 4

# Every accepted run is read back after the restart: none may be swept first.
[retention]
max_runs_per_agent = 1000000

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "recorder"
crew_id = "crew"
workspace_id = "ws"
rate_limit_per_min = 1000000
max_queued_runs = 100000
max_concurrent_runs = 4
command = ["sh", "-c", "printf '%s\n' \"$CREWSHIP_MESSAGE\" | grep -o 'marker-[0-9]*' >> {log}"]
webhook_secret = "{SECRET}"
"#,
        log = exec_log.display()
    )
}

fn body(n: u64) -> String {
    format!(r#"{{"event":"crash","data":{{"id":"marker-{n}"}}}}"#)
}

/// Sends the burst from 16 connections; SIGKILLs the runner once `KILL_AFTER` were accepted.
/// Returns the accepted runs by marker.
async fn burst_until_killed(runner: &Runner, secret: &str) -> BTreeMap<u64, String> {
    let accepted = Arc::new(Mutex::new(BTreeMap::new()));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let url = runner.trigger_url("crew", "recorder");
    let pid = runner.pid();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (accepted, next, url, secret) = (
            accepted.clone(),
            next.clone(),
            url.clone(),
            secret.to_owned(),
        );
        let http = reqwest::Client::new();
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= BURST {
                    return;
                }
                match post(&http, &url, &secret, &body(n)).await {
                    Ok((202, answer)) => {
                        let mut accepted = accepted.lock().await;
                        accepted.insert(n, answer["run_id"].as_str().unwrap().to_owned());
                        if accepted.len() == KILL_AFTER {
                            signal(pid, "KILL");
                        }
                    }
                    Ok((status, answer)) => panic!("marker {n}: {status} {answer}"),
                    // The runner is gone: what was not answered was not promised.
                    Err(_) => return,
                }
            }
        });
    }
    tasks.join_all().await;
    Arc::try_unwrap(accepted).unwrap().into_inner()
}

/// The start banner, once printed (it is captured line by line).
async fn banner(runner: &Runner) -> String {
    let start = Instant::now();
    while !runner.output().contains("agent recorder") && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.output()
}

fn executions(exec_log: &Path) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(exec_log)
        .unwrap_or_default()
        .lines()
    {
        let n: u64 = line.trim_start_matches("marker-").parse().unwrap();
        *counts.entry(n).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_mid_burst_loses_no_accepted_run_and_runs_none_twice() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("crewship.db");
    let exec_log = data.path().join("executions.log");
    let db_arg = db.to_str().unwrap().to_owned();
    let args = ["--data", db_arg.as_str()];
    let config = config(&exec_log);

    let first = Runner::start_with(&config, &args).unwrap();
    let printed = banner(&first).await;
    assert!(printed.contains("store: sqlite"), "{printed}");
    // An agent registered through the management API.
    let registered = first
        .http
        .put(format!("{}/api/v1/internal/agents/registered", first.base))
        .header("x-internal-token", "internal-token")
        .json(&serde_json::json!({
            "crew_id": "crew", "workspace_id": "ws", "command": ["true"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    // The configured secret is rotated out: only the new one may verify after the grace.
    let rotated: Value = first
        .http
        .post(format!(
            "{}/api/v1/agents/recorder/webhook-secret/rotate",
            first.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["webhook_secret"].as_str().unwrap().to_owned();
    let rotated_at = Instant::now();

    let accepted = burst_until_killed(&first, &new_secret).await;
    assert!(accepted.len() >= KILL_AFTER, "{}", accepted.len());
    drop(first);
    let before_restart = executions(&exec_log);

    let second = Runner::start_with(&config, &args).unwrap();
    let printed = banner(&second).await;
    assert!(printed.contains("store: sqlite"), "{printed}");
    let mut lost = 0;
    for (n, run_id) in &accepted {
        let run = second
            .wait_for_run(run_id, TOKEN, Duration::from_secs(120))
            .await
            .unwrap();
        match run["status"].as_str() {
            Some("COMPLETED") => {}
            // It was RUNNING when its executor died with the first process.
            Some("FAILED") if run["error_message"] == "executor lost" => lost += 1,
            other => panic!("marker {n}: {other:?} {run}"),
        }
    }
    let after = executions(&exec_log);
    for n in accepted.keys() {
        let times = after.get(n).copied().unwrap_or(0);
        assert!(times <= 1, "marker {n} ran {times} times");
    }
    let ran_after_restart = accepted
        .keys()
        .filter(|n| !before_restart.contains_key(n) && after.contains_key(n))
        .count();
    let never_ran = accepted.keys().filter(|n| !after.contains_key(n)).count();
    assert!(
        never_ran <= lost,
        "{never_ran} accepted runs never executed, only {lost} were lost while running"
    );
    assert!(
        ran_after_restart > 0,
        "the crash left nothing queued: kill earlier"
    );
    eprintln!(
        "crash: {} accepted, {} ran before the crash, {ran_after_restart} after the restart, \
         {lost} finished executor lost",
        accepted.len(),
        before_restart.len()
    );

    // A pre-crash delivery sent again is its original run.
    let (n, original) = accepted.iter().next().unwrap();
    let url = second.trigger_url("crew", "recorder");
    let (status, answer) = post(&second.http, &url, &new_secret, &body(*n))
        .await
        .unwrap();
    assert_eq!(
        (status, answer["run_id"].as_str()),
        (202, Some(original.as_str()))
    );

    // The agent registered before the crash is still there.
    let got = second
        .http
        .get(format!("{}/api/v1/internal/agents/registered", second.base))
        .header("x-internal-token", "internal-token")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);

    // Past the grace period only the rotated-in secret verifies.
    let grace = Duration::from_secs(GRACE_SECS + 1);
    if let Some(left) = grace.checked_sub(rotated_at.elapsed()) {
        tokio::time::sleep(left).await;
    }
    let fresh = body(BURST + 1);
    let (status, _) = post(&second.http, &url, SECRET, &fresh).await.unwrap();
    assert_eq!(status, 401, "the rotated-out secret still verifies");
    let (status, _) = post(&second.http, &url, &new_secret, &fresh).await.unwrap();
    assert_eq!(status, 202);
}
