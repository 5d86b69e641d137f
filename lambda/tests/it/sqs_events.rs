//! The executor on the SQS event source reports exactly the failing records in
//! `batchItemFailures`, and runs the others.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use crewship_core::agent::Agent;
use crewship_core::ids::RunId;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::run::{AuthScheme, NewRun, Run, RunStatus};
use crewship_test_support::AgentBuilder;
use executor::runtime::ProcessRuntime;
use executor::{Executor, ExecutorConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn agent() -> Agent {
    AgentBuilder::new("agent")
        .command(&["sh", "-c", "cat >/dev/null; echo done"])
        .secret("x".repeat(32))
        .max_concurrent_runs(5)
        .build()
}

async fn queued_run(memory: &MemoryPorts) -> RunId {
    let new = NewRun {
        id: RunId::generate(),
        event: "e".into(),
        source: "s".into(),
        auth_scheme: AuthScheme::Signature,
        delivery_id: None,
        payload: Arc::from(serde_json::value::RawValue::from_string("{}".into()).unwrap()),
    };
    let run = Run::queued(&agent(), new, time::OffsetDateTime::now_utc());
    memory.ports.runs.create(&run).await.unwrap();
    run.id
}

fn record(id: &str, body: &str) -> Value {
    let template: Value =
        serde_json::from_str(include_str!("../fixtures/example-sqs-event.json")).unwrap();
    let mut record = template["Records"][0].clone();
    record["messageId"] = json!(id);
    record["receiptHandle"] = json!(format!("receipt-{id}"));
    record["body"] = json!(body);
    record
}

#[tokio::test]
async fn one_failing_record_is_named_and_its_batch_mates_run() {
    let memory = MemoryPorts::new(
        Arc::new(MemoryRegistry::new([agent()])),
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let executor = Executor::new(
        memory.ports.clone(),
        Arc::new(ProcessRuntime::new(dir.path())),
        ExecutorConfig::default(),
    );
    let first = queued_run(&memory).await;
    let third = queued_run(&memory).await;
    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        record("m1", &json!({"v": "1", "run_id": first}).to_string()),
        record("m2", "this is not a run envelope"),
        record("m3", &json!({"v": "1", "run_id": third}).to_string()),
    ]}))
    .unwrap();

    let response =
        crewship_lambda::sqs::handle_batch(&executor, event, CancellationToken::new()).await;
    let response = serde_json::to_value(response).unwrap();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "m2"}]),
        "{response}"
    );
    for id in [first, third] {
        let run = memory.ports.runs.get(&id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    }
}
