//! Retention with a manual clock, on real child processes: a run's log is capped and says so in
//! one `system` entry; a week later the sweep deletes the finished runs and their logs, and a
//! QUEUED run stays however old it is.

use std::sync::Arc;

use crewship_core::clock::{Clock, ManualClock};
use crewship_core::log::Stream;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::retention::{LogCap, RetentionPolicy};
use crewship_core::run::RunStatus;
use executor::Executor;
use executor::runtime::ProcessRuntime;
use time::OffsetDateTime;

use crate::common::{Harness, fast_config, script_agent};

#[tokio::test]
async fn capped_logs_say_what_was_dropped_and_old_finished_runs_are_swept_but_queued_stay() {
    let chatty = script_agent("chatty", "seq 1 50");
    let wide = script_agent(
        "wide",
        "head -c 3000 /dev/zero | tr '\\0' x; echo; echo next",
    );
    let idle = script_agent("idle", "true");
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let mut config = fast_config();
    config.log_cap = LogCap {
        max_lines: 10,
        max_bytes: 2000,
    };
    let registry = Arc::new(MemoryRegistry::new([
        chatty.clone(),
        wide.clone(),
        idle.clone(),
    ]));
    let mut memory = MemoryPorts::new(registry, config.lease * 2);
    memory.ports.clock = clock.clone();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(ProcessRuntime::new(dir.path().join("work")));
    let executor = Arc::new(Executor::new(memory.ports.clone(), runtime, config));
    let h = Harness {
        memory,
        executor,
        dir,
    };

    let many = h.enqueue(&chatty, "push").await;
    let long = h.enqueue(&wide, "push").await;
    h.executor.drain().await.unwrap();
    // A run that waits: stored QUEUED, never delivered.
    let waiting = h.queued_run(&idle, "push");
    h.memory.ports.runs.create(&waiting).await.unwrap();

    let logs = h.logs(&chatty, &many).await;
    let out: Vec<&str> = logs
        .iter()
        .filter(|e| e.stream == Stream::Stdout)
        .map(|e| e.content.as_str())
        .collect();
    assert_eq!(out, (1..=10).map(|i| i.to_string()).collect::<Vec<_>>());
    let notes: Vec<&str> = logs
        .iter()
        .filter(|e| e.stream == Stream::System)
        .map(|e| e.content.as_str())
        .collect();
    assert_eq!(
        notes,
        ["log capped at 10 lines / 2000 bytes: 40 more lines (80 bytes) were dropped"]
    );
    assert_eq!(
        logs.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>(),
        "no gaps"
    );
    // The byte cap: the 3,000-byte line does not fit, nor does anything after it.
    let logs = h.logs(&wide, &long).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].stream, Stream::System);
    assert!(
        logs[0].content.contains("2 more lines"),
        "{}",
        logs[0].content
    );

    let policy = RetentionPolicy::default();
    let swept = h
        .memory
        .retention
        .sweep(&policy, clock.now())
        .await
        .unwrap();
    assert_eq!(swept.runs, 0, "a week has not passed");
    clock.advance(time::Duration::days(7) + time::Duration::seconds(1));
    let swept = h
        .memory
        .retention
        .sweep(&policy, clock.now())
        .await
        .unwrap();
    assert_eq!(swept.runs, 2);
    for id in [&many, &long] {
        assert!(h.memory.ports.runs.get(id).await.unwrap().is_none());
    }
    assert!(h.logs(&chatty, &many).await.is_empty());
    assert_eq!(h.run(&waiting.id).await.status, RunStatus::Queued);
}
