//! Claims, leases and redelivery: a run is never executed twice, never stranded RUNNING, and a
//! finished run never changes.

use std::time::Duration;

use crewship_core::run::{Lease, RunStatus};
use crewship_core::store::StoreError;
use executor::{EXECUTOR_LOST, Outcome};

use crate::common::{Harness, fast_config, script_agent};

/// A run some executor claimed and then died with: RUNNING, lease in the past.
async fn run_of_a_dead_executor(
    h: &Harness,
    agent: &crewship_core::agent::Agent,
) -> crewship_core::ids::RunId {
    let id = h.enqueue(agent, "push").await;
    let mut run = h.run(&id).await;
    let now = h.memory.ports.clock.now();
    run.status = RunStatus::Running;
    run.started_at = Some(now - time::Duration::minutes(2));
    run.attempt = 1;
    run.lease = Some(Lease {
        owner: "dead-executor".into(),
        expires_at: now - time::Duration::minutes(1),
    });
    h.memory
        .ports
        .runs
        .update(&mut run, RunStatus::Queued)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn expired_lease_is_finished_executor_lost_by_the_sweep_and_never_rerun() {
    let a = script_agent("a", "touch ran");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = run_of_a_dead_executor(&h, &a).await;
    assert_eq!(h.executor.sweep_lost().await.unwrap(), 1);
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error_message.as_deref(), Some(EXECUTOR_LOST));
    assert!(run.finished_at.is_some() && run.duration_ms.is_some());
    // Its message is still in the queue: handling it now runs nothing.
    let outcome = h.executor.process_next().await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    assert!(!h.crew_dir().join("ran").exists(), "the agent was re-run");
    assert_eq!(h.run(&id).await.attempt, 1);
    assert!(h.memory.queue.is_empty());
}

#[tokio::test]
async fn expired_lease_is_finished_executor_lost_on_redelivery() {
    let a = script_agent("a", "touch ran");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = run_of_a_dead_executor(&h, &a).await;
    let outcome = h.executor.process_next().await.unwrap();
    assert_eq!(outcome, Outcome::Lost { run_id: id.clone() });
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error_message.as_deref(), Some(EXECUTOR_LOST));
    assert!(!h.crew_dir().join("ran").exists(), "the agent was re-run");
    assert!(
        h.memory.queue.is_empty(),
        "the message was not acknowledged"
    );
}

#[tokio::test]
async fn a_live_lease_is_not_swept() {
    let a = script_agent("a", "sleep 2");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let task = {
        let executor = h.executor.clone();
        tokio::spawn(async move { executor.process_next().await })
    };
    while h.run(&id).await.status != RunStatus::Running {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.executor.sweep_lost().await.unwrap(), 0);
    task.await.unwrap().unwrap();
    assert_eq!(h.run(&id).await.status, RunStatus::Completed);
}

#[tokio::test]
async fn heartbeat_renews_the_lease_past_its_length() {
    let a = script_agent("a", "sleep 2");
    let config = executor::ExecutorConfig {
        lease: Duration::from_millis(700),
        heartbeat: Duration::from_millis(100),
        ..fast_config()
    };
    let h = Harness::new(vec![a.clone()], config);
    let id = h.enqueue(&a, "push").await;
    let task = {
        let executor = h.executor.clone();
        tokio::spawn(async move { executor.process_next().await })
    };
    // Well past one lease length, the run is still held.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.lease.unwrap().expires_at > h.memory.ports.clock.now());
    assert_eq!(h.executor.sweep_lost().await.unwrap(), 0);
    task.await.unwrap().unwrap();
    assert_eq!(h.run(&id).await.status, RunStatus::Completed);
}

#[tokio::test]
async fn redelivery_of_a_finished_runs_message_is_a_no_op() {
    let a = script_agent("a", "echo run >> runs.txt");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.drain().await.unwrap();
    let before = h.run(&id).await;
    assert_eq!(before.status, RunStatus::Completed);
    let log_len = h.logs(&a, &id).await.len();

    // The queue delivers the same run id again (at-least-once delivery).
    h.memory.ports.queue.send(&id).await.unwrap();
    let outcome = h.executor.process_next().await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Skipped {
            run_id: id.clone(),
            reason: "not queued"
        }
    );
    let after = h.run(&id).await;
    assert_eq!(after.version, before.version, "the run was written");
    assert_eq!(after.attempt, 1);
    assert_eq!(
        std::fs::read_to_string(h.crew_dir().join("runs.txt")).unwrap(),
        "run\n"
    );
    assert_eq!(h.logs(&a, &id).await.len(), log_len);
    assert!(h.memory.queue.is_empty());
}

#[tokio::test]
async fn redelivery_while_running_does_not_start_a_second_agent() {
    let a = script_agent("a", "echo run >> runs.txt; sleep 1");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    let task = {
        let executor = h.executor.clone();
        tokio::spawn(async move { executor.process_next().await })
    };
    while h.run(&id).await.status != RunStatus::Running {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.memory.ports.queue.send(&id).await.unwrap();
    let outcome = h.executor.process_next().await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    task.await.unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(h.crew_dir().join("runs.txt")).unwrap(),
        "run\n"
    );
}

#[tokio::test]
async fn terminal_states_never_change() {
    let a = script_agent("a", "exit 3");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.drain().await.unwrap();
    let finished = h.run(&id).await;
    assert_eq!(finished.status, RunStatus::Failed);

    // A writer that read the finished run tries to change it, with each status as `prev`.
    for prev in [
        RunStatus::Failed,
        RunStatus::Running,
        RunStatus::Queued,
        RunStatus::Completed,
    ] {
        let mut changed = finished.clone();
        changed.status = RunStatus::Completed;
        changed.exit_code = Some(0);
        let result = h.memory.ports.runs.update(&mut changed, prev).await;
        assert!(
            matches!(result, Err(StoreError::Conflict { .. })),
            "update with prev {prev} gave {result:?}"
        );
    }
    // The lifecycle's own finish leaves it alone too.
    let again = executor::lifecycle::finish(
        &h.memory.ports,
        &id,
        executor::Ending::failed("late writer"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(again.error_message, finished.error_message);
    let stored = h.run(&id).await;
    assert_eq!(stored.status, RunStatus::Failed);
    assert_eq!(stored.exit_code, Some(3));
    assert_eq!(stored.version, finished.version);
}

#[tokio::test]
async fn chat_session_is_created_on_the_first_run_and_reused_after() {
    let a = script_agent("a", "true");
    let h = Harness::new(vec![a.clone()], fast_config());
    let first = h.enqueue(&a, "deploy").await;
    h.executor.drain().await.unwrap();
    let chat = "webhook-a";
    assert_eq!(
        h.memory.ports.chats.title(chat).await.unwrap().as_deref(),
        Some("Webhook: deploy")
    );
    let second = h.enqueue(&a, "push").await;
    h.executor.drain().await.unwrap();
    // Reused, not renamed after the second run's event.
    assert_eq!(
        h.memory.ports.chats.title(chat).await.unwrap().as_deref(),
        Some("Webhook: deploy")
    );
    assert!(!h.memory.ports.chats.ensure(chat, "x").await.unwrap());
    for id in [first, second] {
        let run = h.run(&id).await;
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.chat_id, chat);
    }
}

#[tokio::test]
async fn the_loop_sweeps_lost_runs_even_while_every_slot_is_busy() {
    let busy = script_agent("busy", "sleep 5");
    let other = script_agent("other", "true");
    let config = executor::ExecutorConfig {
        max_concurrent_runs: 1,
        lease: Duration::from_secs(1),
        ..fast_config()
    };
    let h = Harness::new(vec![busy.clone(), other.clone()], config);
    let long = h.enqueue(&busy, "push").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(h.executor.clone().run_until_stopped(stop.clone()));
    while h.run(&long).await.status != RunStatus::Running {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A run of a dead executor whose queue message is gone too: only a sweep can find it.
    let mut lost = h.queued_run(&other, "push");
    let now = h.memory.ports.clock.now();
    lost.status = RunStatus::Running;
    lost.started_at = Some(now);
    lost.lease = Some(Lease {
        owner: "dead-executor".into(),
        expires_at: now,
    });
    h.memory.ports.runs.create(&lost).await.unwrap();

    let run = h.wait_terminal(&lost.id).await;
    assert_eq!(run.error_message.as_deref(), Some(EXECUTOR_LOST));
    assert_eq!(
        h.run(&long).await.status,
        RunStatus::Running,
        "swept only after the slot freed up"
    );
    assert_eq!(h.wait_terminal(&long).await.status, RunStatus::Completed);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_lease_renewed_before_the_final_check_is_not_finished_as_lost() {
    let a = script_agent("a", "true");
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = run_of_a_dead_executor(&h, &a).await;
    // The slow executor renews its lease after a sweeper listed the run as expired.
    let mut run = h.run(&id).await;
    run.lease = Some(Lease {
        owner: "slow-executor".into(),
        expires_at: h.memory.ports.clock.now() + time::Duration::minutes(1),
    });
    h.memory
        .ports
        .runs
        .update(&mut run, RunStatus::Running)
        .await
        .unwrap();
    let now = h.memory.ports.clock.now();
    let (stored, finished) = executor::lifecycle::finish_if(
        &h.memory.ports,
        &id,
        executor::Ending::failed(EXECUTOR_LOST),
        Duration::from_secs(5),
        |r| r.lease.as_ref().is_some_and(|l| l.expires_at < now),
    )
    .await
    .unwrap();
    assert!(!finished);
    assert_eq!(stored.status, RunStatus::Running);
    // Redelivery of its message does not finish it either.
    let outcome = h.executor.process_next().await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    assert_eq!(h.run(&id).await.status, RunStatus::Running);
}
