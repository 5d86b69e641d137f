//! The port conformance suite against DynamoDB, SQS and S3 on moto, plus what only the AWS
//! adapters have: records sealed at rest, payloads in S3, the dead-letter queue.

use std::time::Duration;

use crewship_aws::config::build_ports_with;
use crewship_core::ports::Ports;

use crate::common::{Moto, provision};
use crewship_test_support::conformance;
use crewship_test_support::conformance_suite;

async fn setup() -> (Ports, Moto) {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let built = build_ports_with(&cloud.backends(), &cloud.sdk);
    (built.ports, moto)
}

// Without `concurrent_claims_hold_the_agents_cap`: moto's TransactWriteItems snapshots the
// table and restores the snapshot when a transaction fails, with no lock, so concurrent
// transactions can undo one another there. DynamoDB's are serializable.
conformance_suite!(setup);

#[tokio::test]
async fn agent_records_are_sealed_at_rest() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    ports
        .agents
        .put(conformance::agent("agent-a"))
        .await
        .unwrap();
    let raw = aws_sdk_dynamodb::Client::new(&cloud.sdk)
        .scan()
        .table_name(&cloud.tables.agents)
        .send()
        .await
        .unwrap();
    let dump = format!("{:?}", raw.items);
    assert!(dump.contains("agent-a") && dump.contains("sealed"));
    for secret in [
        "current-secret-value",
        "previous-secret-value",
        "credential-value",
    ] {
        assert!(!dump.contains(secret), "{secret} stored in plaintext");
    }
    // A different key cannot read them.
    let mut other = cloud.backends();
    if let crewship_aws::config::StoreBackend::DynamoDb { sealing, .. } = &mut other.store {
        *sealing = crewship_aws::seal::Sealing::from_base64_key(
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        )
        .unwrap();
    }
    let wrong = build_ports_with(&other, &cloud.sdk).ports;
    assert!(wrong.agents.get(&"agent-a".parse().unwrap()).await.is_err());
}

#[tokio::test]
async fn large_payloads_live_in_s3_and_small_ones_in_the_item() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let a = conformance::agent("agent-a");
    let small = conformance::new_run(&a, r#"{"event":"small"}"#);
    let big = conformance::new_run(&a, &format!(r#"{{"blob":"{}"}}"#, "y".repeat(500_000)));
    ports.runs.create(&small).await.unwrap();
    ports.runs.create(&big).await.unwrap();
    let objects = crewship_aws::config::s3_client(&cloud.sdk)
        .list_objects_v2()
        .bucket(&cloud.bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = objects
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, [format!("payloads/{}.json", big.id)]);
}

#[tokio::test]
async fn messages_move_to_the_dead_letter_queue_after_max_receives() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 2).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let run = crewship_core::ids::RunId::generate();
    ports.queue.send(&run).await.unwrap();
    for attempt in 1..=2 {
        let got = ports
            .queue
            .receive(1, Duration::from_secs(4))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "receive {attempt}");
        // Give it back at once, as a crashed consumer would after its timeout.
        ports
            .queue
            .extend(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        ports
            .queue
            .receive(1, Duration::from_secs(2))
            .await
            .unwrap()
            .is_empty()
    );
    let dlq = aws_sdk_sqs::Client::new(&cloud.sdk)
        .receive_message()
        .queue_url(&cloud.queue.dead_letter)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = dlq.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, [format!(r#"{{"v":"1","run_id":"{run}"}}"#)]);
}

#[tokio::test]
async fn a_missing_payload_object_degrades_one_field_of_one_run() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let a = conformance::agent("agent-a");
    let small = conformance::new_run(&a, r#"{"event":"small"}"#);
    let big = conformance::new_run(&a, &format!(r#"{{"blob":"{}"}}"#, "y".repeat(300_000)));
    ports.runs.create(&small).await.unwrap();
    ports.runs.create(&big).await.unwrap();
    // The bucket's lifecycle (or a person) removed the object before the run expired.
    crewship_aws::config::s3_client(&cloud.sdk)
        .delete_object()
        .bucket(&cloud.bucket)
        .key(format!("payloads/{}.json", big.id))
        .send()
        .await
        .unwrap();

    let read = ports.runs.get(&big.id).await.unwrap().unwrap();
    assert!(read.payload_missing);
    assert_eq!(read.payload.get(), "null");
    let json = serde_json::to_value(&read).unwrap();
    assert_eq!(json["payload"], serde_json::Value::Null);
    assert_eq!(json["payload_missing"], true);
    // The listing still answers, with the other run whole.
    let page = ports
        .runs
        .list_by_agent(&a.id, &Default::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let other = page.items.iter().find(|r| r.id == small.id).unwrap();
    assert!(!other.payload_missing);
    assert_eq!(other.payload.get(), r#"{"event":"small"}"#);
    assert!(
        serde_json::to_value(other)
            .unwrap()
            .get("payload_missing")
            .is_none()
    );
}

#[tokio::test]
async fn runs_and_their_logs_carry_one_expiry() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 30, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let a = conformance::agent("agent-a");
    let run = conformance::new_run(&a, "{}");
    ports.runs.create(&run).await.unwrap();
    let line = conformance::entry(&run.id, &a.id, 1);
    ports
        .logs
        .append(std::slice::from_ref(&line))
        .await
        .unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&cloud.sdk);
    let expiry = |table: String| {
        let dynamo = dynamo.clone();
        async move {
            let items = dynamo
                .scan()
                .table_name(table)
                .send()
                .await
                .unwrap()
                .items
                .unwrap();
            items[0]["expires_at"]
                .as_n()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    // The test backends keep 90 days, as the template's default and the bucket's lifecycle.
    let days_90 = 90 * 24 * 3600;
    assert_eq!(
        expiry(cloud.tables.runs.clone()).await,
        run.created_at.unix_timestamp() + days_90
    );
    assert_eq!(
        expiry(cloud.tables.logs.clone()).await,
        line.ts.unix_timestamp() + days_90
    );
    // A callback's two items expire the same span after it was written, at the run's end.
    let ended = run.created_at + time::Duration::seconds(42);
    let entry = crewship_core::callbacks::OutboxEntry::new(
        &run,
        "https://receiver.example/hook",
        crewship_core::callback::CallbackEvent::RunCompleted,
        ended,
    );
    assert!(ports.callbacks.enqueue(&entry).await.unwrap());
    let items = dynamo
        .scan()
        .table_name(&cloud.tables.callbacks)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 2, "the entry and the run's pointer");
    for item in items {
        let at: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(at, ended.unix_timestamp() + days_90, "{item:?}");
    }
}
