//! No agent outlives its runner or its Keeper (docs/runtimes.md): SIGKILL the `local-runner`,
//! or the `local-runner keeper` it runs agents through, while an agent and the background
//! grandchild it started are running: within 5 s no process of that tree is left, for the
//! process and the sandbox runtimes. The tree is found by a marker in its environment, which
//! every descendant inherits and which pid namespaces do not hide from the host's `/proc`.

use std::time::Duration;

use crewship_test_support::procs;
use e2e_tests::keeper::KeeperProcess;
use e2e_tests::{Runner, SECRET};

const KEEPER_TOKEN: &str = "keeper-token-0c4e8a2f6b1d3e5f7a9c";
const MARK: &str = "E2E_ORPHAN_MARK";

fn config(executor: &str, marker: &str) -> String {
    format!(
        r#"
[executor]
{executor}

[[agents]]
id = "holder"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "sleep 300 & echo started; wait"]
env = {{ {MARK} = "{marker}" }}
webhook_secret = "{SECRET}"
"#
    )
}

fn unique_marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("orphan-{}-{nanos}", std::process::id())
}

/// Triggers the holder and waits until its tree (the shell and its sleep, at least) runs.
async fn start_holder(runner: &Runner, marker: &str) {
    let (status, answer) = runner
        .trigger("crew", "holder", SECRET, r#"{"event":"hold"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let start = std::time::Instant::now();
    while procs::with_env(MARK, marker).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agent's tree never started: {}",
            runner.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_tree_gone(marker: &str) {
    let left = procs::gone_within(MARK, marker, Duration::from_secs(5)).await;
    assert!(left.is_empty(), "still running 5 s later: {left:?}");
}

async fn runner_killed(runtime: &str) {
    let marker = unique_marker();
    let mut runner = Runner::start(&config(&format!("runtime = \"{runtime}\""), &marker)).unwrap();
    start_holder(&runner, &marker).await;
    runner.kill_hard();
    assert_tree_gone(&marker).await;
}

async fn keeper_killed(runtime: &str) {
    let marker = unique_marker();
    let mut keeper = KeeperProcess::start_opts(KEEPER_TOKEN, &[], &["--runtime", runtime]).unwrap();
    let executor = format!(
        "runtime = \"keeper\"\nkeeper_url = \"{}\"\nkeeper_token = \"{KEEPER_TOKEN}\"",
        keeper.url
    );
    let runner = Runner::start(&config(&executor, &marker)).unwrap();
    start_holder(&runner, &marker).await;
    keeper.kill_hard();
    assert_tree_gone(&marker).await;
}

#[tokio::test]
async fn sigkill_of_the_runner_takes_the_process_runtimes_agent_tree_with_it() {
    runner_killed("process").await;
}

#[tokio::test]
async fn sigkill_of_the_runner_takes_the_sandboxed_agent_tree_with_it() {
    if procs::bwrap_available() {
        runner_killed("sandbox").await;
    }
}

#[tokio::test]
async fn sigkill_of_keeper_takes_its_process_agent_tree_with_it() {
    keeper_killed("process").await;
}

#[tokio::test]
async fn sigkill_of_keeper_takes_its_sandboxed_agent_tree_with_it() {
    if procs::bwrap_available() {
        keeper_killed("sandbox").await;
    }
}
