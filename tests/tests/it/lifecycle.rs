//! The run lifecycle on the real binary: cancellation through the monitoring API, graceful
//! shutdown on SIGTERM, and credentials that never reach a log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::{Runner, SECRET, TOKEN, process_alive, read_pid};
use serde_json::Value;

const CREDENTIAL: &str = "sk-live-credential-31415926";

fn config(shutdown_grace_secs: u64) -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[executor]
kill_grace_secs = 1
shutdown_grace_secs = {shutdown_grace_secs}

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[tokens]]
token = "other-token"
workspace_id = "other"

[[agents]]
id = "holder"
crew_id = "holders"
workspace_id = "ws"
max_concurrent_runs = 1
command = ["sh", "-c", "echo start >> starts.log; sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait"]
webhook_secret = "{SECRET}"

[[agents]]
id = "short"
crew_id = "shorts"
workspace_id = "ws"
command = ["sh", "-c", "echo $$ > child.pid; sleep 1; echo done > finished.txt"]
webhook_secret = "{SECRET}"

[[agents]]
id = "creds"
crew_id = "creds"
workspace_id = "ws"
command = ["sh", "-c", "if [ \"$API_KEY\" = {CREDENTIAL} ]; then echo key-present; fi"]
webhook_secret = "{SECRET}"
env = {{ API_KEY = "{CREDENTIAL}" }}
"#
    )
}

const LIMIT: Duration = Duration::from_secs(60);

async fn cancel(runner: &Runner, run_id: &str, token: &str) -> (u16, Value) {
    let response = runner
        .http
        .post(format!("{}/api/v1/runs/{run_id}/cancel", runner.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Triggers a run with a body of its own (identical bodies would be deduplicated).
async fn trigger(runner: &Runner, agent: &str, crew: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let body = format!(
        r#"{{"event":"push","data":{{"n":{}}}}}"#,
        N.fetch_add(1, Ordering::Relaxed)
    );
    let (status, answer) = runner.trigger(crew, agent, SECRET, &body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

async fn status_of(runner: &Runner, run_id: &str) -> String {
    let (_, run) = runner
        .get_json(&format!("/api/v1/runs/{run_id}"), TOKEN)
        .await
        .unwrap();
    run["status"].as_str().unwrap_or_default().to_owned()
}

async fn wait_running(runner: &Runner, run_id: &str) {
    let start = Instant::now();
    while status_of(runner, run_id).await != "RUNNING" {
        assert!(start.elapsed() < LIMIT, "run {run_id} never RUNNING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cancel_queued_running_and_finished_runs_through_the_api() {
    let runner = Runner::start(&config(5)).unwrap();
    let crew = runner.crew_dir("ws", "holders");
    let running = trigger(&runner, "holder", "holders").await;
    let child = read_pid(&crew.join("child.pid")).await.unwrap();
    let grandchild = read_pid(&crew.join("grandchild.pid")).await.unwrap();
    // The agent's cap is 1: the second run waits in the queue.
    let queued = trigger(&runner, "holder", "holders").await;
    let (_, first) = runner
        .get_json(&format!("/api/v1/runs/{running}"), TOKEN)
        .await
        .unwrap();
    assert_eq!(
        status_of(&runner, &queued).await,
        "QUEUED",
        "{first}\n{}",
        runner.output()
    );

    // Another workspace's token does not see the run.
    let (status, _) = cancel(&runner, &queued, "other-token").await;
    assert_eq!(status, 404);
    let (status, _) = cancel(&runner, &queued, "no-such-token").await;
    assert_eq!(status, 401);

    let (status, run) = cancel(&runner, &queued, TOKEN).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "CANCELLED");
    assert_eq!(run["exit_code"], Value::Null);
    assert!(run["finished_at"].is_string() && run["duration_ms"].is_u64());

    let (status, run) = cancel(&runner, &running, TOKEN).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["status"], "RUNNING");
    let run = runner.wait_for_run(&running, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "CANCELLED", "{run}");
    assert_eq!(run["exit_code"], Value::Null);
    for pid in [child, grandchild] {
        let start = Instant::now();
        while process_alive(pid) {
            assert!(start.elapsed() < LIMIT, "process {pid} survived the cancel");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    for id in [&queued, &running] {
        let (status, body) = cancel(&runner, id, TOKEN).await;
        assert_eq!(status, 409, "{body}");
    }
    // The cancelled queued run's message comes round again (its deferral is short) and is
    // skipped: the agent started exactly once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status_of(&runner, &queued).await, "CANCELLED");
    let starts = std::fs::read_to_string(crew.join("starts.log")).unwrap();
    assert_eq!(starts.lines().count(), 1, "{starts}");
}

#[tokio::test]
async fn sigterm_lets_a_running_agent_finish_before_the_runner_exits() {
    let mut runner = Runner::start(&config(30)).unwrap();
    let run_id = trigger(&runner, "short", "shorts").await;
    wait_running(&runner, &run_id).await;
    read_pid(&runner.crew_dir("ws", "shorts").join("child.pid"))
        .await
        .unwrap();
    let status = runner.terminate().unwrap();
    assert!(status.success(), "{status:?}\n{}", runner.output());
    assert!(
        runner
            .crew_dir("ws", "shorts")
            .join("finished.txt")
            .exists(),
        "the agent was cut short"
    );
    let output = runner.output();
    assert!(
        output.contains(&run_id) && output.contains("status=COMPLETED"),
        "{output}"
    );
}

#[tokio::test]
async fn sigterm_past_the_grace_period_stops_the_agent_and_fails_its_run() {
    let mut runner = Runner::start(&config(1)).unwrap();
    let run_id = trigger(&runner, "holder", "holders").await;
    let crew = runner.crew_dir("ws", "holders");
    let child = read_pid(&crew.join("child.pid")).await.unwrap();
    let grandchild = read_pid(&crew.join("grandchild.pid")).await.unwrap();
    let status = runner.terminate().unwrap();
    assert!(status.success(), "{status:?}\n{}", runner.output());
    assert!(!process_alive(child) && !process_alive(grandchild));
    let output = runner.output();
    let finished = output
        .lines()
        .find(|l| l.contains("run finished") && l.contains(&run_id))
        .unwrap_or_else(|| panic!("no finish line for {run_id}:\n{output}"));
    assert!(
        finished.contains("status=FAILED") && finished.contains("executor shut down"),
        "{finished}"
    );
}

#[tokio::test]
async fn credentials_reach_the_agent_and_no_log_or_output() {
    let runner = Runner::start(&config(5)).unwrap();
    let run_id = trigger(&runner, "creds", "creds").await;
    let run = runner.wait_for_run(&run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let logs = runner.run_logs("creds", &run_id, TOKEN).await.unwrap();
    let text = serde_json::to_string(&logs).unwrap();
    assert!(text.contains("key-present"), "{text}");
    assert!(!text.contains(CREDENTIAL));
    assert!(!run.to_string().contains(CREDENTIAL));
    assert!(!runner.output().contains(CREDENTIAL), "{}", runner.output());
}
