//! Every way a run ends, on real child processes: exit codes, deadlines with a process tree,
//! and the causes of runs that never start.

use std::sync::Arc;
use std::time::Duration;

use crewship_core::run::RunStatus;
use executor::Outcome;
use executor::runtime::ProcessRuntime;

use crate::common::{
    Harness, agent, assert_all_gone, contents, fast_config, read_pid, script_agent,
};

#[tokio::test]
async fn exit_zero_completes_with_times_and_output() {
    let a = script_agent("ok", "echo hello; echo oops >&2; exit 0");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let outcome = h.executor.process_next().await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Finished {
            run_id: id.clone(),
            status: RunStatus::Completed
        }
    );
    let run = h.run(&id).await;
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(run.error_message, None);
    assert_eq!(run.attempt, 1);
    let started = run.started_at.expect("started_at");
    let finished = run.finished_at.expect("finished_at");
    assert!(finished >= started);
    assert!(run.duration_ms.is_some());
    assert!(run.deadline_at.is_some_and(|d| d > started));
    let logs = h.logs(&a, &id).await;
    let lines = contents(&logs);
    assert!(
        lines.contains(&"hello") && lines.contains(&"oops"),
        "{lines:?}"
    );
    let oops = logs.iter().find(|e| e.content == "oops").unwrap();
    assert_eq!(
        (oops.stream, oops.level.as_str()),
        (crewship_core::log::Stream::Stderr, "error")
    );
}

#[tokio::test]
async fn nonzero_exit_fails_with_the_real_exit_code() {
    let a = script_agent("bad", "echo about to fail; exit 42");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.drain().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, Some(42));
    assert_eq!(
        run.error_message.as_deref(),
        Some("agent exited with code 42")
    );
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());
}

#[tokio::test]
async fn deadline_times_out_and_no_process_of_the_tree_survives() {
    // The child ignores SIGTERM and so does the grandchild: only SIGKILL to the whole
    // process group ends them.
    let mut a = script_agent(
        "slow",
        "trap '' TERM; sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; while :; do sleep 1; done' & \
         echo $$ > child.pid; echo started; wait",
    );
    a.timeout_secs = Some(1);
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let runner = {
        let executor = h.executor.clone();
        tokio::spawn(async move { executor.process_next().await })
    };
    let child = read_pid(&h.crew_dir().join("child.pid")).await;
    let grandchild = read_pid(&h.crew_dir().join("grandchild.pid")).await;
    assert!(crate::common::process_alive(grandchild));
    runner.await.unwrap().unwrap();

    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Timeout);
    assert_eq!(run.exit_code, None);
    assert_eq!(run.error_message.as_deref(), Some("timed out after 1s"));
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());
    assert_all_gone(&[child, grandchild]).await;
    let logs = h.logs(&a, &id).await;
    let lines = contents(&logs);
    assert!(lines.contains(&"started"), "{lines:?}");
    assert_eq!(lines.last(), Some(&"timed out after 1s"));
}

#[tokio::test]
async fn agent_deadline_can_be_lower_but_never_higher_than_the_executors() {
    let mut a = script_agent("slow", "sleep 30");
    a.timeout_secs = Some(3600);
    let config = executor::ExecutorConfig {
        run_timeout: Duration::from_secs(1),
        ..fast_config()
    };
    let h = Harness::new(vec![a.clone()], config);
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Timeout);
    assert_eq!(run.error_message.as_deref(), Some("timed out after 1s"));
}

#[tokio::test]
async fn missing_binary_fails_with_the_cause() {
    let a = agent("ghost", &["/nonexistent/agent-binary", "--flag"]);
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, None);
    let message = run.error_message.unwrap();
    assert!(
        message.contains("could not be started") && message.contains("/nonexistent/agent-binary"),
        "{message}"
    );
    assert!(run.started_at.is_some() && run.finished_at.is_some() && run.duration_ms.is_some());
}

#[tokio::test]
async fn unresolvable_agent_fails_with_the_cause() {
    let known = script_agent("known", "true");
    let h = Harness::new(vec![known], fast_config());
    // The run names an agent the registry does not know (deleted after the trigger).
    let gone = script_agent("deleted", "true");
    let run = h.queued_run(&gone, "push");
    h.memory.ports.runs.create(&run).await.unwrap();
    h.memory.ports.queue.send(&run.id).await.unwrap();
    h.executor.process_next().await.unwrap();
    let run = h.run(&run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        run.error_message.as_deref(),
        Some("agent could not be resolved: agent deleted does not exist")
    );
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());
}

#[tokio::test]
async fn runtime_that_cannot_be_ensured_fails_the_run() {
    let a = script_agent("a", "touch ran");
    let dir = tempfile::tempdir().unwrap();
    // The runtime's root is a file: no crew directory can be created under it.
    let root = dir.path().join("not-a-directory");
    std::fs::write(&root, "").unwrap();
    let runtime = Arc::new(ProcessRuntime::new(&root));
    let h = Harness::with_runtime(vec![a.clone()], fast_config(), runtime, dir);
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    let message = run.error_message.unwrap();
    assert!(
        message.contains("container runtime for crew crew could not be ensured"),
        "{message}"
    );
}

#[tokio::test]
async fn agent_killed_by_a_signal_fails_without_an_exit_code() {
    let a = script_agent("selfkill", "kill -9 $$");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, None);
    assert_eq!(
        run.error_message.as_deref(),
        Some("agent was killed by signal 9")
    );
}

#[tokio::test]
async fn agent_that_closes_its_output_but_keeps_running_still_meets_its_deadline() {
    let mut a = script_agent("closer", "exec >&- 2>&-; sleep 30");
    a.timeout_secs = Some(1);
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    assert_eq!(h.run(&id).await.status, RunStatus::Timeout);
}

#[tokio::test]
async fn a_run_whose_payload_is_missing_fails_without_running_the_agent() {
    let agent = script_agent("p", "touch ran");
    let h = Harness::new(vec![agent.clone()], fast_config());
    let mut run = h.queued_run(&agent, "lost-payload");
    run.payload_missing = true;
    h.memory.ports.runs.create(&run).await.unwrap();
    h.memory.ports.queue.send(&run.id).await.unwrap();
    h.executor.drain().await.unwrap();
    let run = h.run(&run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        run.error_message.as_deref(),
        Some(executor::PAYLOAD_MISSING)
    );
    assert!(!h.crew_dir().join("ran").exists(), "the agent ran");
    assert!(h.memory.queue.is_empty());
}
