//! Concurrency caps, cancellation and graceful shutdown, driving `run_until_stopped` with real
//! child processes that record when they ran.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crewship_core::ids::RunId;
use crewship_core::run::RunStatus;
use executor::Executor;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common::{Harness, assert_all_gone, fast_config, read_pid, script_agent};

/// A script body that appends "<start_ns> <end_ns>" to `file` around `work`.
fn timed(file: &str, work: &str) -> String {
    format!("s=$(date +%s%N); {work}; e=$(date +%s%N); echo \"$s $e\" >> {file}")
}

fn intervals(h: &Harness, file: &str) -> Vec<(u128, u128)> {
    let text = std::fs::read_to_string(h.crew_dir().join(file)).unwrap();
    let mut spans: Vec<(u128, u128)> = text
        .lines()
        .map(|l| {
            let (s, e) = l.split_once(' ').unwrap();
            (s.parse().unwrap(), e.parse().unwrap())
        })
        .collect();
    spans.sort();
    spans
}

/// The largest number of intervals that contain one instant.
fn max_overlap(spans: &[(u128, u128)]) -> usize {
    spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

fn start(executor: &Arc<Executor>) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(executor.clone().run_until_stopped(stop.clone()));
    (stop, task)
}

async fn wait_status(h: &Harness, id: &RunId, status: RunStatus) {
    let start = Instant::now();
    while h.run(id).await.status != status {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "run never {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn runs_of_one_agent_over_its_cap_wait_and_never_overlap() {
    let a = script_agent("serial", &timed("spans.txt", "sleep 0.3"));
    assert_eq!(a.max_concurrent_runs, 1);
    let h = Harness::new(vec![a.clone()], fast_config());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(h.enqueue(&a, "push").await);
    }
    let (stop, task) = start(&h.executor);
    for id in &ids {
        let run = h.wait_terminal(id).await;
        // Over the cap means waiting, never failing.
        assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error_message);
        assert_eq!(run.attempt, 1);
    }
    stop.cancel();
    task.await.unwrap();
    let spans = intervals(&h, "spans.txt");
    assert_eq!(spans.len(), 3);
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "runs overlapped: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[tokio::test]
async fn an_agent_cap_above_one_lets_that_many_run_together() {
    let mut a = script_agent("pair", &timed("spans.txt", "sleep 1"));
    a.max_concurrent_runs = 2;
    let h = Harness::new(vec![a.clone()], fast_config());
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(h.enqueue(&a, "push").await);
    }
    let (stop, task) = start(&h.executor);
    for id in &ids {
        assert_eq!(h.wait_terminal(id).await.status, RunStatus::Completed);
    }
    stop.cancel();
    task.await.unwrap();
    let overlap = max_overlap(&intervals(&h, "spans.txt"));
    assert!(overlap <= 2, "{overlap} runs of the agent at once");
}

#[tokio::test]
async fn the_executor_runs_at_most_n_at_once() {
    let agents: Vec<_> = (0..5)
        .map(|i| script_agent(&format!("a{i}"), &timed("spans.txt", "sleep 0.5")))
        .collect();
    let config = executor::ExecutorConfig {
        max_concurrent_runs: 2,
        ..fast_config()
    };
    let h = Harness::new(agents.clone(), config);
    let mut ids = Vec::new();
    for a in &agents {
        ids.push(h.enqueue(a, "push").await);
    }
    let (stop, task) = start(&h.executor);
    for id in &ids {
        let run = h.wait_terminal(id).await;
        assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error_message);
    }
    stop.cancel();
    task.await.unwrap();
    let spans = intervals(&h, "spans.txt");
    assert_eq!(spans.len(), 5);
    let overlap = max_overlap(&spans);
    assert!(overlap <= 2, "{overlap} runs at once with N = 2");
}

#[tokio::test]
async fn cancelling_a_running_run_stops_its_process_tree() {
    let a = script_agent(
        "long",
        "sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait",
    );
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let (stop, task) = start(&h.executor);
    let child = read_pid(&h.crew_dir().join("child.pid")).await;
    let grandchild = read_pid(&h.crew_dir().join("grandchild.pid")).await;

    // What `POST /runs/{id}/cancel` does to a RUNNING run.
    let mut run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Running);
    run.cancel_requested = true;
    h.memory
        .ports
        .runs
        .update(&mut run, RunStatus::Running)
        .await
        .unwrap();

    let run = h.wait_terminal(&id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.exit_code, None);
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());
    assert_all_gone(&[child, grandchild]).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_short_agent_finish_and_takes_no_new_work() {
    let a = script_agent("short", "touch started; sleep 1; echo done");
    // Another agent, so its cap cannot be what holds the late run back.
    let b = script_agent("other", "touch other-ran");
    let h = Harness::new(vec![a.clone(), b.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let (stop, task) = start(&h.executor);
    wait_status(&h, &id, RunStatus::Running).await;
    stop.cancel();
    // Work that arrives during shutdown is not taken.
    let late = h.enqueue(&b, "late").await;
    task.await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error_message);
    assert_eq!(h.run(&late).await.status, RunStatus::Queued);
    assert!(!h.crew_dir().join("other-ran").exists());
}

#[tokio::test]
async fn shutdown_stops_an_agent_past_the_grace_period_and_fails_its_run() {
    let a = script_agent(
        "stubborn",
        "trap '' TERM; sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait",
    );
    let config = executor::ExecutorConfig {
        shutdown_grace: Duration::from_secs(1),
        ..fast_config()
    };
    let h = Harness::new(vec![a.clone()], config);
    let id = h.enqueue(&a, "push").await;
    let (stop, task) = start(&h.executor);
    let child = read_pid(&h.crew_dir().join("child.pid")).await;
    let grandchild = read_pid(&h.crew_dir().join("grandchild.pid")).await;
    stop.cancel();
    task.await.unwrap();
    // Never left RUNNING once the executor has returned.
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, None);
    let message = run.error_message.unwrap();
    assert!(message.contains("executor shut down"), "{message}");
    assert_all_gone(&[child, grandchild]).await;
}
