//! The local runner with the Keeper runtime, talking to a `local-runner keeper` process over
//! loopback: runs complete, deadlines kill through the protocol, a dead Keeper or a wrong token
//! ends the run FAILED naming Keeper, and the token never reaches a log. The agent's result
//! file comes back through the protocol.

use std::time::Duration;

use e2e_tests::keeper::KeeperProcess;
use e2e_tests::{Runner, SECRET, TOKEN, process_alive, read_pid};

const KEEPER_TOKEN: &str = "keeper-token-5f1c9a7e3b2d4c6e8f0a";
const LIMIT: Duration = Duration::from_secs(60);

fn config(keeper_url: &str, keeper_token: &str) -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[executor]
kill_grace_secs = 1
runtime = "keeper"
keeper_url = "{keeper_url}"
keeper_token = "{keeper_token}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo agent-says-hello; echo to-stderr >&2; cat; echo kept-by-keeper > \"$CREWSHIP_RESULT_FILE\""]
webhook_secret = "{SECRET}"

[[agents]]
id = "sleeper"
crew_id = "crew"
workspace_id = "ws"
timeout_secs = 2
command = ["sh", "-c", "trap '' TERM; sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait"]
webhook_secret = "{SECRET}"

[[agents]]
id = "long"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "sleep 300 & echo $! > long-grandchild.pid; echo $$ > long-child.pid; echo started; wait"]
webhook_secret = "{SECRET}"
"#
    )
}

async fn wait_dead(pids: &[u32]) {
    let start = std::time::Instant::now();
    while pids.iter().any(|p| process_alive(*p)) {
        assert!(start.elapsed() < LIMIT, "processes still alive: {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn run_through_keeper_completes_with_its_output_streamed() {
    let keeper = KeeperProcess::start(KEEPER_TOKEN).unwrap();
    let runner = Runner::start(&config(&keeper.url, KEEPER_TOKEN)).unwrap();
    let body = r#"{"event":"push","source":"ci","data":{"n":1}}"#;
    let (status, answer) = runner.trigger("crew", "echo", SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    // The result file is read on the Keeper host and crosses the protocol (docs/results.md).
    assert_eq!(run["result"], "kept-by-keeper\n", "{run}");
    let logs = runner.run_logs("echo", run_id, TOKEN).await.unwrap();
    let lines: Vec<&str> = logs
        .iter()
        .map(|e| e["content"].as_str().unwrap())
        .collect();
    assert!(lines.contains(&"agent-says-hello"), "{lines:?}");
    assert!(lines.contains(&"to-stderr"), "{lines:?}");
    assert!(lines.contains(&"Event: push"), "{lines:?}");
    // Keeper ran it in its own crew directory.
    assert!(keeper.crew_dir("ws", "crew").is_dir());
}

#[tokio::test]
async fn run_over_its_deadline_is_killed_through_keeper() {
    let keeper = KeeperProcess::start(KEEPER_TOKEN).unwrap();
    let runner = Runner::start(&config(&keeper.url, KEEPER_TOKEN)).unwrap();
    let (status, answer) = runner
        .trigger("crew", "sleeper", SECRET, r#"{"event":"e"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let child = read_pid(&keeper.crew_dir("ws", "crew").join("child.pid"))
        .await
        .unwrap();
    let grandchild = read_pid(&keeper.crew_dir("ws", "crew").join("grandchild.pid"))
        .await
        .unwrap();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "TIMEOUT", "{run}");
    wait_dead(&[child, grandchild]).await;
}

#[tokio::test]
async fn keeper_killed_mid_run_fails_the_run_naming_keeper() {
    let mut keeper = KeeperProcess::start(KEEPER_TOKEN).unwrap();
    let runner = Runner::start(&config(&keeper.url, KEEPER_TOKEN)).unwrap();
    let (status, answer) = runner
        .trigger("crew", "long", SECRET, r#"{"event":"e"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let dir = keeper.crew_dir("ws", "crew");
    let child = read_pid(&dir.join("long-child.pid")).await.unwrap();
    let grandchild = read_pid(&dir.join("long-grandchild.pid")).await.unwrap();
    keeper.kill_hard();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    // The agents outlive a SIGKILLed Keeper (their own process group): stop the ones this
    // test started before asserting.
    for pid in [grandchild, child] {
        e2e_tests::signal(pid, "KILL");
    }
    assert_eq!(run["status"], "FAILED", "{run}");
    let message = run["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("Keeper"), "{run}");
}

#[tokio::test]
async fn wrong_keeper_token_fails_the_run_and_no_token_is_logged() {
    let keeper = KeeperProcess::start(KEEPER_TOKEN).unwrap();
    let wrong = "wrong-keeper-token-0a9b8c7d6e5f";
    let runner = Runner::start(&config(&keeper.url, wrong)).unwrap();
    let (status, answer) = runner
        .trigger("crew", "echo", SECRET, r#"{"event":"e"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "FAILED", "{run}");
    let message = run["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("Keeper rejected the token"), "{run}");
    for log in [runner.output(), keeper.output()] {
        assert!(!log.contains(KEEPER_TOKEN), "token in a log: {log}");
        assert!(!log.contains(wrong), "token in a log: {log}");
    }
}
