//! Deferral by visibility under the real event source's rules: an agent capped at one run at a
//! time, two executor instances invoked at once. The second webhook arrives while the first run
//! is RUNNING; its run waits — reported as a batch item failure, so the mapping leaves its
//! message, hidden for the executor's delay — and starts when the first has finished. Both
//! complete, no receive count reaches the queue's `maxReceiveCount`, and the dead-letter queue
//! stays empty.
//!
//! The second webhook waits for the first run to be RUNNING, so that the two claims do not
//! overlap: the store holds the cap across executors with a DynamoDB transaction
//! (`RunStore::claim_within`), and moto does not isolate concurrent transactions (it snapshots
//! the table and restores the snapshot when one fails, undoing whatever another wrote
//! meanwhile). The cap under concurrent claims is tested on the stores that isolate them
//! (`test-support/src/conformance.rs`); on DynamoDB it rests on its serializable transactions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crewship_aws::provision::MAX_RECEIVES;
use crewship_core::run::Run;

use crate::event_source::EventSource;
use crate::http::{all_finished, register_agent, run, trigger};
use crate::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runs_of_a_capped_agent_both_complete_and_nothing_is_dead_lettered() {
    let mut stack = Stack::start(2).await;
    let lambda = stack.lambda.clone();
    let agent = crate::command_agent("capped", "sleep 3; echo done", 1);
    let secret = register_agent(&lambda, &agent).await;
    let first = trigger(&lambda, "crew", "capped", &secret, 1).await;
    let ids = Arc::new(Mutex::new(vec![first.clone()]));
    let second = {
        let (lambda, ids) = (lambda.clone(), ids.clone());
        tokio::spawn(async move {
            while run(&lambda, &first).await["status"] == "QUEUED" {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let id = trigger(&lambda, "crew", "capped", &secret, 2).await;
            ids.lock().unwrap().push(id);
        })
    };
    let sqs = aws_sdk_sqs::Client::new(&stack.cloud.sdk);
    let events = EventSource {
        sqs: sqs.clone(),
        queue_url: stack.cloud.queue.queue.clone(),
        lambda: lambda.clone(),
        function: "executor-lambda",
        concurrency: 2,
    };
    let seen = events
        .drive(Duration::from_secs(90), || {
            let ids = ids.lock().unwrap().clone();
            let lambda = lambda.clone();
            async move { ids.len() == 2 && all_finished(&lambda, &ids).await }
        })
        .await;
    second.await.unwrap();
    let ids = ids.lock().unwrap().clone();

    let mut runs: Vec<Run> = Vec::new();
    for id in &ids {
        let r = run(&lambda, id).await;
        assert_eq!(r["status"], "COMPLETED", "{r}\n{}", stack.report());
        runs.push(serde_json::from_value(r).expect("a run"));
    }
    assert!(
        seen.max_receive_count < MAX_RECEIVES,
        "a receive count reached {}",
        seen.max_receive_count
    );
    runs.sort_by_key(|r| r.started_at);
    assert!(
        runs[0].finished_at.unwrap() <= runs[1].started_at.unwrap(),
        "the cap of one was exceeded: {runs:?}"
    );
    assert!(seen.failures >= 1, "no run was ever deferred: {seen:?}");
    let dead = sqs
        .receive_message()
        .queue_url(&stack.cloud.queue.dead_letter)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(
        dead.messages.unwrap_or_default().is_empty(),
        "a message reached the dead-letter queue"
    );
}
