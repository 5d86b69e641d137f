//! Deferral on the SQS event source, against moto: two runs of an agent capped at one run at a
//! time, each record handed to the executor function's batch handler as Lambda's poller hands
//! it (receipt handle, `ApproximateReceiveCount`; successes deleted, `batchItemFailures` left).
//! The waiting run is deferred by visibility and re-sent before `maxReceiveCount`: both runs
//! complete, one after the other, and nothing reaches the dead-letter queue.
//!
//! The second run's message is sent once the first run is RUNNING, so that the two claims do
//! not overlap: on DynamoDB a claim is a transaction, and moto does not isolate concurrent
//! transactions (when one fails it restores a snapshot of the table, undoing the other's
//! claim). The cap under concurrent claims is tested where the store isolates them
//! (`test-support/src/conformance.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsEvent;
use crewship_aws::config::build_ports_with;
use crewship_aws::sqs::SqsQueue;
use crewship_core::ids::RunId;
use crewship_core::queue::RunQueue;
use crewship_core::run::RunStatus;
use crewship_test_support::cloud::{Moto, provision};
use crewship_test_support::{AgentBuilder, queued_run};
use executor::runtime::ProcessRuntime;
use executor::{Executor, ExecutorConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The queue's and the executor's dead-letter threshold: low, so that a waiting run would
/// reach it within a few deferrals if it were not re-sent.
const MAX_RECEIVES: u32 = 3;

/// One poll of Lambda's event source: at most one record, handed to the function.
async fn poll(executor: &Executor, queue: &SqsQueue, max_seen: &std::sync::atomic::AtomicU32) {
    let Ok(got) = queue.receive(1, Duration::from_secs(1)).await else {
        return;
    };
    for d in got {
        max_seen.fetch_max(d.receive_count, std::sync::atomic::Ordering::Relaxed);
        let event: SqsEvent = serde_json::from_value(json!({"Records": [{
            "messageId": d.receipt,
            "receiptHandle": d.receipt,
            "body": json!({"v": "1", "run_id": d.run_id}).to_string(),
            "attributes": {"ApproximateReceiveCount": d.receive_count.to_string()},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }]}))
        .unwrap();
        let response =
            crewship_lambda::sqs::handle_batch(executor, event, CancellationToken::new()).await;
        if response.batch_item_failures.is_empty() {
            queue.ack(&d.receipt).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runs_of_a_capped_agent_both_complete_and_nothing_is_dead_lettered() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, MAX_RECEIVES).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let agent = AgentBuilder::new("capped")
        .command(&["sh", "-c", "sleep 3"])
        .secret("x".repeat(32))
        .max_concurrent_runs(1)
        .build();
    ports.agents.put(agent.clone()).await.unwrap();
    let mut ids: Vec<RunId> = Vec::new();
    for _ in 0..2 {
        let run = queued_run(&agent, "{}");
        ports.runs.create(&run).await.unwrap();
        ids.push(run.id);
    }
    ports.queue.send(&ids[0]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = ExecutorConfig {
        max_receives: MAX_RECEIVES,
        defer: Duration::from_millis(200),
        defer_max: Duration::from_secs(1),
        heartbeat: Duration::from_millis(500),
        lease: Duration::from_secs(10),
        ..ExecutorConfig::default()
    };
    // Two concurrent function instances, as the event source runs them.
    let executor = Arc::new(Executor::new(
        ports.clone(),
        Arc::new(ProcessRuntime::new(dir.path())),
        config,
    ));
    let queue = Arc::new(SqsQueue::new(
        aws_sdk_sqs::Client::new(&cloud.sdk),
        cloud.queue.queue.clone(),
    ));
    let max_seen = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut instances = Vec::new();
    for _ in 0..2 {
        let (executor, queue, max_seen, ports, ids) = (
            executor.clone(),
            queue.clone(),
            max_seen.clone(),
            ports.clone(),
            ids.clone(),
        );
        instances.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut done = true;
                for id in &ids {
                    done &= ports
                        .runs
                        .get(id)
                        .await
                        .unwrap()
                        .unwrap()
                        .status
                        .is_terminal();
                }
                if done {
                    return;
                }
                poll(&executor, &queue, &max_seen).await;
            }
        }));
    }
    while ports.runs.get(&ids[0]).await.unwrap().unwrap().status == RunStatus::Queued {
        assert!(Instant::now() < deadline, "the first run never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ports.queue.send(&ids[1]).await.unwrap();
    for instance in instances {
        instance.await.unwrap();
    }

    let mut runs = Vec::new();
    for id in &ids {
        let run = ports.runs.get(id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{run:?}");
        runs.push(run);
    }
    runs.sort_by_key(|r| r.started_at);
    assert!(
        runs[0].finished_at.unwrap() <= runs[1].started_at.unwrap(),
        "the cap of one was exceeded"
    );
    let seen = max_seen.load(std::sync::atomic::Ordering::Relaxed);
    assert!(seen < MAX_RECEIVES, "a receive count reached {seen}");
    let dead = SqsQueue::new(
        aws_sdk_sqs::Client::new(&cloud.sdk),
        cloud.queue.dead_letter.clone(),
    );
    assert!(
        dead.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "a message reached the dead-letter queue"
    );
}
