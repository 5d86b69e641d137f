//! The callback outbox's part of the conformance suite: one callback per run, claims that two
//! workers cannot both win, attempts recorded only by the claim they were made under.

use crewship_core::callback::CallbackEvent;
use crewship_core::callbacks::{Attempt, CallbackState, OutboxEntry, OutboxError, RetrySchedule};
use crewship_core::ports::Ports;
use crewship_core::run::RunStatus;
use time::OffsetDateTime;

use super::{agent, new_run};

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
}

fn finished_entry(status: RunStatus) -> OutboxEntry {
    let mut run = new_run(
        &agent("agent-a"),
        r#"{"event":"push","secret":"in-payload"}"#,
    );
    run.finish(status, Some(0), None, t(0));
    let event = CallbackEvent::of(status).unwrap();
    OutboxEntry::new(&run, "https://receiver.example/hook", event, t(0))
}

/// A run's callback is written once and reads back with its frozen body, which leaves the
/// payload out.
pub async fn callbacks_are_one_per_run_and_read_back(ports: &Ports) {
    let entry = finished_entry(RunStatus::Completed);
    assert!(ports.callbacks.enqueue(&entry).await.unwrap());
    let mut again = entry.clone();
    again.id = crewship_core::ids::CallbackId::generate();
    assert!(
        !ports.callbacks.enqueue(&again).await.unwrap(),
        "a second callback for the run"
    );
    let stored = ports.callbacks.of_run(&entry.run_id).await.unwrap();
    assert_eq!(stored, std::slice::from_ref(&entry));
    assert_eq!(
        ports.callbacks.get(&entry.id).await.unwrap().as_ref(),
        Some(&entry)
    );
    assert_eq!(ports.callbacks.get(&again.id).await.unwrap(), None);
    let body: serde_json::Value = serde_json::from_str(&stored[0].body).unwrap();
    assert_eq!(body["type"], "run.completed");
    assert_eq!(body["data"]["id"], entry.run_id.as_str());
    assert_eq!(body["data"]["status"], "COMPLETED");
    assert!(body["data"].get("payload").is_none(), "{body}");
    let other = new_run(&agent("agent-a"), "{}");
    assert!(ports.callbacks.of_run(&other.id).await.unwrap().is_empty());
}

/// A due callback is claimed by one caller; it is due again only when the claim runs out; an
/// attempt is recorded once, and a finished callback is never due.
pub async fn callbacks_are_claimed_once_and_recorded_conditionally(ports: &Ports) {
    let entry = finished_entry(RunStatus::Failed);
    ports.callbacks.enqueue(&entry).await.unwrap();
    let early = ports.callbacks.claim_due(t(-1), t(59), 10).await.unwrap();
    assert!(early.is_empty(), "not due before its time");
    let claimed = ports.callbacks.claim_due(t(0), t(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].next_attempt_at, Some(t(60)));
    assert!(
        ports
            .callbacks
            .claim_due(t(30), t(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ports
            .callbacks
            .claim(&entry.id, t(30), t(90))
            .await
            .unwrap()
            .is_none()
    );

    let schedule = RetrySchedule::from_waits(vec![std::time::Duration::from_secs(5)]);
    let mut failed = claimed[0].clone();
    schedule.apply(&mut failed, Attempt::answered(t(1), 500));
    assert_eq!(failed.state, CallbackState::Pending);
    ports.callbacks.record(&failed).await.unwrap();
    assert!(
        matches!(
            ports.callbacks.record(&failed).await,
            Err(OutboxError::Conflict(_))
        ),
        "one attempt is recorded once"
    );
    let stored = &ports.callbacks.of_run(&entry.run_id).await.unwrap()[0];
    assert_eq!(stored.next_attempt_at, Some(t(6)));
    assert_eq!(stored.attempts[0].status_code, Some(500));

    let mut again = ports
        .callbacks
        .claim(&entry.id, t(6), t(66))
        .await
        .unwrap()
        .expect("due after the wait");
    assert_eq!(again.attempts.len(), 1);
    schedule.apply(&mut again, Attempt::answered(t(7), 204));
    ports.callbacks.record(&again).await.unwrap();
    let stored = &ports.callbacks.of_run(&entry.run_id).await.unwrap()[0];
    assert_eq!(stored.state, CallbackState::Delivered);
    assert_eq!(stored.attempts.len(), 2);
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(
        ports.callbacks.get(&entry.id).await.unwrap().as_ref(),
        Some(stored)
    );
    assert!(
        ports
            .callbacks
            .claim_due(t(999), t(1999), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
