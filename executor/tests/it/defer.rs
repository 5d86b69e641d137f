//! A run waiting on a concurrency cap keeps a queue message whose receive count stays low, so a
//! dead-letter threshold (SQS `maxReceiveCount`) can never take a run that is only waiting.

use std::time::Duration;

use crewship_core::run::{Lease, RunStatus};
use executor::Outcome;

use crate::common::*;

#[tokio::test]
async fn a_run_deferred_again_and_again_never_accumulates_receives() {
    let agent = script_agent("capped", "true");
    let h = Harness::new(vec![agent.clone()], fast_config());
    // Another run of the same agent holds its only slot.
    let busy_id = h.enqueue(&agent, "busy").await;
    let mut busy = h.run(&busy_id).await;
    busy.status = RunStatus::Running;
    busy.lease = Some(Lease {
        owner: "elsewhere".into(),
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    });
    h.memory
        .ports
        .runs
        .update(&mut busy, RunStatus::Queued)
        .await
        .unwrap();
    let busy_message = h
        .memory
        .ports
        .queue
        .receive(1, Duration::ZERO)
        .await
        .unwrap();
    h.memory
        .ports
        .queue
        .ack(&busy_message[0].receipt)
        .await
        .unwrap();

    let waiting = h.enqueue(&agent, "waiting").await;
    let mut max_count = 0;
    for _ in 0..10 {
        let delivery = h
            .memory
            .ports
            .queue
            .receive(1, Duration::from_secs(5))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(delivery.run_id, waiting);
        max_count = max_count.max(delivery.receive_count);
        let outcome = h
            .executor
            .handle(delivery, Default::default())
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Deferred { .. }), "{outcome:?}");
    }
    assert!(max_count <= 2, "receive count grew to {max_count}");
    assert_eq!(
        h.memory.queue.len(),
        1,
        "exactly one message for the waiting run"
    );
    assert_eq!(h.run(&waiting).await.status, RunStatus::Queued);
}
