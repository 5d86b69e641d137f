//! `crewship-provision dlq redrive|fail` on moto: the runbook's two remedies (docs/aws.md). Runs
//! whose messages died are QUEUED with no message; `redrive` gives each a fresh one, `fail`
//! finishes each FAILED; messages of runs that moved on are only deleted.

use std::process::Command;
use std::time::Duration;

use crewship_aws::config::build_ports_with;
use crewship_aws::sqs::SqsQueue;
use crewship_cloud::dlq::DEAD_LETTERED;
use crewship_core::ids::RunId;
use crewship_core::ports::Ports;
use crewship_core::queue::RunQueue;
use crewship_core::run::{Run, RunStatus};
use crewship_test_support::{AgentBuilder, queued_run};

use crate::common::{Cloud, Moto, provision};

const PROVISION: &str = env!("CARGO_BIN_EXE_crewship-provision");

async fn queued(ports: &Ports) -> Run {
    let run = queued_run(&AgentBuilder::new("dlq-agent").build(), "{}");
    ports.runs.create(&run).await.unwrap();
    run
}

fn dlq(moto: &Moto, cloud: &Cloud, action: &str) -> String {
    let out = Command::new(PROVISION)
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(moto.env())
        .envs(cloud.env())
        .args(["dlq", action, "--dlq-url", &cloud.queue.dead_letter])
        .output()
        .expect("running crewship-provision");
    assert!(
        out.status.success(),
        "crewship-provision dlq {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn all_ids(queue: &dyn RunQueue) -> Vec<RunId> {
    let mut ids = Vec::new();
    loop {
        let got = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        if got.is_empty() {
            ids.sort();
            return ids;
        }
        for d in got {
            queue.ack(&d.receipt).await.unwrap();
            ids.push(d.run_id);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dead_letter_queue_is_redriven_or_failed_run_by_run() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let dead = SqsQueue::new(
        aws_sdk_sqs::Client::new(&cloud.sdk),
        cloud.queue.dead_letter.clone(),
    );
    let a = queued(&ports).await;
    let b = queued(&ports).await;
    let mut done = queued(&ports).await;
    done.finish(
        RunStatus::Completed,
        Some(0),
        None,
        time::OffsetDateTime::now_utc(),
    );
    ports
        .runs
        .update(&mut done, RunStatus::Queued)
        .await
        .unwrap();
    for run in [&a, &b, &done] {
        dead.send(&run.id).await.unwrap();
    }

    let report = dlq(&moto, &cloud, "redrive");
    assert_eq!(report.trim(), "redriven 2 failed 0 settled 1");
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(all_ids(ports.queue.as_ref()).await, expected);
    assert!(all_ids(&dead).await.is_empty(), "the DLQ is empty");

    // Dead-lettered again: this time they are given up.
    for run in [&a, &b] {
        dead.send(&run.id).await.unwrap();
    }
    let report = dlq(&moto, &cloud, "fail");
    assert_eq!(report.trim(), "redriven 0 failed 2 settled 0");
    for run in [&a, &b] {
        let run = ports.runs.get(&run.id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.error_message.as_deref(), Some(DEAD_LETTERED));
    }
    assert!(all_ids(ports.queue.as_ref()).await.is_empty());
    assert_eq!(
        ports.runs.get(&done.id).await.unwrap().unwrap().status,
        RunStatus::Completed
    );
}
