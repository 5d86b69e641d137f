//! The retention sweep's behaviour, written once and run over every store that sweeps its own
//! history (memory and SQLite, from crewship-core's tests), with a manual notion of "now".

use std::sync::Arc;
use std::time::Duration;

use crewship_core::callback::CallbackEvent::RunCompleted;
use crewship_core::callbacks::OutboxEntry;
use crewship_core::ids::RunId;
use crewship_core::log::{LogEntry, Stream};
use crewship_core::logs::LogQuery;
use crewship_core::ports::Ports;
use crewship_core::retention::{Retention, RetentionPolicy};
use crewship_core::run::{Run, RunStatus};
use time::OffsetDateTime;

use crate::conformance::{agent, new_run};

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

async fn finished_at(ports: &Ports, run: &mut Run, at: OffsetDateTime) {
    run.status = RunStatus::Running;
    run.started_at = Some(at);
    ports.runs.update(run, RunStatus::Queued).await.unwrap();
    run.finish(RunStatus::Completed, Some(0), None, at);
    ports.runs.update(run, RunStatus::Running).await.unwrap();
}

async fn line_count(ports: &Ports, run: &Run) -> usize {
    ports
        .logs
        .query(&LogQuery {
            agent: run.agent_id.clone(),
            run: Some(run.id.clone()),
            after: None,
            limit: 100,
        })
        .await
        .unwrap()
        .len()
}

/// Finished runs go past the count, then past the age, with their logs and callbacks; QUEUED and RUNNING
/// runs stay however old; expired reservations go.
pub async fn the_sweep_deletes_finished_runs_past_count_and_age_and_nothing_unfinished(
    ports: &Ports,
    retention: &Arc<dyn Retention>,
) {
    let a = agent("agent-a");
    // Created first, so they are the oldest runs of all.
    let queued = new_run(&a, "{}");
    ports.runs.create(&queued).await.unwrap();
    let mut running = new_run(&a, "{}");
    ports.runs.create(&running).await.unwrap();
    running.status = RunStatus::Running;
    ports
        .runs
        .update(&mut running, RunStatus::Queued)
        .await
        .unwrap();
    let mut finished = Vec::new();
    for i in 0..5 {
        let mut run = new_run(&a, "{}");
        ports.runs.create(&run).await.unwrap();
        finished_at(ports, &mut run, t(i)).await;
        let entry = LogEntry {
            run_id: run.id.clone(),
            agent_id: a.id.clone(),
            seq: 1,
            ts: t(i),
            stream: Stream::Stdout,
            level: "info".into(),
            event: "output".into(),
            content: "line".into(),
        };
        ports.logs.append(&[entry]).await.unwrap();
        let callback = OutboxEntry::new(&run, "https://receiver.example/", RunCompleted, t(i));
        assert!(ports.callbacks.enqueue(&callback).await.unwrap());
        finished.push(run);
    }
    let other = agent("agent-b");
    let mut theirs = new_run(&other, "{}");
    ports.runs.create(&theirs).await.unwrap();
    finished_at(ports, &mut theirs, t(0)).await;
    let keys = vec!["k".to_owned()];
    ports
        .dedup
        .reserve(&a.id, &keys, &RunId::generate(), t(0), t(10))
        .await
        .unwrap();

    let policy = RetentionPolicy {
        max_age: Duration::from_secs(100),
        max_runs_per_agent: 3,
    };
    let swept = retention.sweep(&policy, t(50)).await.unwrap();
    assert_eq!(
        swept.runs, 2,
        "the two oldest of agent-a's five finished runs"
    );
    assert_eq!(swept.reservations, 1);
    let exists = |run: &Run| {
        let (ports, id) = (ports.clone(), run.id.clone());
        async move { ports.runs.get(&id).await.unwrap().is_some() }
    };
    assert!(!exists(&finished[0]).await && !exists(&finished[1]).await);
    assert_eq!(line_count(ports, &finished[0]).await, 0, "its log went too");
    let callbacks = |run: &Run| {
        let (ports, id) = (ports.clone(), run.id.clone());
        async move { ports.callbacks.of_run(&id).await.unwrap().len() }
    };
    assert_eq!(callbacks(&finished[0]).await, 0, "and its callback");
    for run in &finished[2..] {
        assert!(exists(run).await);
        assert_eq!(line_count(ports, run).await, 1);
        assert_eq!(callbacks(run).await, 1);
    }
    assert!(exists(&theirs).await, "another agent's count is its own");

    // Idempotent.
    assert_eq!(retention.sweep(&policy, t(50)).await.unwrap().runs, 0);

    // Long after: every finished run is too old; QUEUED and RUNNING ones are never deleted.
    let swept = retention.sweep(&policy, t(10_000)).await.unwrap();
    assert_eq!(swept.runs, 4);
    assert!(exists(&queued).await && exists(&running).await);
    for run in finished.iter().chain([&theirs]) {
        assert!(!exists(run).await);
    }
    assert_eq!(
        ports
            .runs
            .count_by_status(&a.id, RunStatus::Completed)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ports
            .runs
            .count_by_status(&a.id, RunStatus::Queued)
            .await
            .unwrap(),
        1
    );
}
