//! Deferral by visibility under the real event source's rules: an agent capped at one run at a
//! time, two webhooks at once, two executor instances invoked at once. Both instances may try
//! to claim at the same instant; the store's claim holds the cap across them
//! (`RunStore::claim_within`), so one run waits — reported as a batch item failure, so the
//! mapping leaves its message, hidden for the executor's delay — and starts when the first has
//! finished. Both complete, one after the other, no receive count reaches the queue's
//! `maxReceiveCount`, and the dead-letter queue stays empty.

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
    let second = trigger(&lambda, "crew", "capped", &secret, 2).await;
    let ids = [first, second];
    let sqs = aws_sdk_sqs::Client::new(&stack.cloud.sdk);
    let events = EventSource {
        sqs: sqs.clone(),
        queue_url: stack.cloud.queue.queue.clone(),
        lambda: lambda.clone(),
        function: "executor-lambda",
        concurrency: 2,
    };
    let seen = events
        .drive(Duration::from_secs(90), || all_finished(&lambda, &ids))
        .await;

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
