//! The sweep (`Executor::sweep`, run by the loop and by the scheduled Lambda alike): lost RUNNING
//! runs are finished, and a QUEUED run without a message gets one as it comes of age — once,
//! not on every sweep.

use std::time::Duration;

use crewship_core::run::{Lease, RunStatus};
use executor::{EXECUTOR_LOST, ExecutorConfig, Swept};

use crate::common::*;

#[tokio::test]
async fn a_sweep_finishes_lost_runs_and_requeues_runs_that_came_of_age_without_a_message() {
    let config = ExecutorConfig {
        requeue_after: Duration::from_secs(300),
        ..fast_config()
    };
    let agent = script_agent("a", "true");
    let h = Harness::new(vec![agent.clone()], config);
    let runs = &h.memory.ports.runs;
    let every = Duration::from_secs(10);

    // Created 305 s ago, its message never sent: inside the window.
    let mut due = h.queued_run(&agent, "due");
    due.created_at -= time::Duration::seconds(305);
    runs.create(&due).await.unwrap();
    // Created 400 s ago: already given its message by earlier sweeps, left alone.
    let mut older = h.queued_run(&agent, "older");
    older.created_at -= time::Duration::seconds(400);
    runs.create(&older).await.unwrap();
    // Young: its message may well be on its way.
    let young = h.queued_run(&agent, "young");
    runs.create(&young).await.unwrap();
    // RUNNING, its lease long expired.
    let mut lost = h.queued_run(&agent, "lost");
    runs.create(&lost).await.unwrap();
    lost.status = RunStatus::Running;
    lost.lease = Some(Lease {
        owner: "gone".into(),
        expires_at: time::OffsetDateTime::now_utc() - time::Duration::minutes(5),
    });
    runs.update(&mut lost, RunStatus::Queued).await.unwrap();

    let swept = h.executor.sweep(every).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            lost: 1,
            requeued: 1
        }
    );
    let lost = h.run(&lost.id).await;
    assert_eq!(lost.status, RunStatus::Failed);
    assert_eq!(lost.error_message.as_deref(), Some(EXECUTOR_LOST));
    let sent = h
        .memory
        .ports
        .queue
        .receive(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        sent.iter().map(|d| &d.run_id).collect::<Vec<_>>(),
        vec![&due.id]
    );

    // The requeued run then runs as any other.
    h.memory.ports.queue.ack(&sent[0].receipt).await.unwrap();
    h.memory.ports.queue.send(&due.id).await.unwrap();
    h.executor.drain().await.unwrap();
    assert_eq!(h.run(&due.id).await.status, RunStatus::Completed);
}
