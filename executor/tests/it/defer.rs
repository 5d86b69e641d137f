//! A run waiting on a concurrency cap keeps exactly one queue message, whose receive count stays
//! under the dead-letter threshold (SQS `maxReceiveCount`, `executor.max_receives`), and which
//! comes back later the longer the run has waited.

use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::ids::RunId;
use crewship_core::run::{Lease, RunStatus};
use executor::{ExecutorConfig, Outcome};

use crate::common::*;

/// A harness whose `capped` agent's only slot is held by a run of another executor.
async fn with_busy_agent(config: ExecutorConfig) -> (Harness, Agent) {
    let agent = script_agent("capped", "true");
    let h = Harness::new(vec![agent.clone()], config);
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
    (h, agent)
}

/// A QUEUED run created `age` ago, stored and sent.
async fn enqueue_aged(h: &Harness, agent: &Agent, age: time::Duration) -> RunId {
    let mut run = h.queued_run(agent, "waiting");
    run.created_at -= age;
    h.memory.ports.runs.create(&run).await.unwrap();
    h.memory.ports.queue.send(&run.id).await.unwrap();
    run.id
}

#[tokio::test]
async fn a_run_deferred_again_and_again_never_reaches_the_dead_letter_threshold() {
    let config = ExecutorConfig {
        max_receives: 3,
        ..fast_config()
    };
    let (h, agent) = with_busy_agent(config).await;
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
        assert_eq!(h.memory.queue.len(), 1, "exactly one message for the run");
    }
    // The threshold is 3: received twice at most, then replaced by a fresh copy.
    assert_eq!(max_count, 2, "receive count reached {max_count}");
    assert_eq!(h.run(&waiting).await.status, RunStatus::Queued);
}

#[tokio::test]
async fn a_run_that_waited_long_is_offered_again_later() {
    let config = ExecutorConfig {
        defer: Duration::from_millis(100),
        defer_max: Duration::from_secs(2),
        ..fast_config()
    };
    let (h, agent) = with_busy_agent(config).await;
    let queue = &h.memory.ports.queue;
    // Waited 40 s: a quarter of it is 10 s, capped at `defer_max`, 2 s.
    let old = enqueue_aged(&h, &agent, time::Duration::seconds(40)).await;
    let delivery = queue.receive(1, Duration::ZERO).await.unwrap().remove(0);
    let outcome = h.executor.handle(delivery, Default::default()).await;
    assert!(
        matches!(outcome, Ok(Outcome::Deferred { .. })),
        "{outcome:?}"
    );
    assert!(
        queue
            .receive(1, Duration::from_millis(1500))
            .await
            .unwrap()
            .is_empty(),
        "offered again before the grown delay"
    );
    let again = queue.receive(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(again[0].run_id, old);
    // Just created: back after `defer`, 100 ms.
    queue.ack(&again[0].receipt).await.unwrap();
    let fresh = h.enqueue(&agent, "fresh").await;
    let delivery = queue.receive(1, Duration::ZERO).await.unwrap().remove(0);
    h.executor
        .handle(delivery, Default::default())
        .await
        .unwrap();
    let back = queue.receive(1, Duration::from_millis(600)).await.unwrap();
    assert_eq!(
        back[0].run_id, fresh,
        "a fresh run waits the shortest delay"
    );
}
