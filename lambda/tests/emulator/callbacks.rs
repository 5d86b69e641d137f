//! Completion callbacks in the cloud (docs/callbacks.md, In the cloud). A run finished by
//! `executor-lambda` leaves its callback in the DynamoDB outbox and a notice on the callbacks
//! queue; `callback-lambda`, invoked by the event source, POSTs it to a receiver the test runs
//! on loopback. The receiver answers `500` first: the message stays, hidden until the retry is
//! due, and the second attempt is delivered. Both attempts are listed by the callbacks endpoint
//! through `handler-lambda`, and each POST verifies with the Standard Webhooks library. A
//! callback whose notice is lost (the queue purged) is delivered by the scheduled sweep.

use std::time::Duration;

use crewship_test_support::receiver::{Received, Receiver};
use serde_json::{Value, json};
use standardwebhooks::Webhook;

use crate::event_source::EventSource;
use crate::http::{all_finished, callbacks, register_agent, trigger};
use crate::stack::Stack;

/// The run's one callback, once it is no longer pending; `None` before.
async fn finished_callback(lambda: &crate::emulator::Lambda, run: &str) -> Option<Value> {
    let list = callbacks(lambda, run).await;
    let list = list.as_array().expect("a list of callbacks");
    assert!(list.len() <= 1, "{list:?}");
    list.first().filter(|c| c["state"] != "pending").cloned()
}

fn verify(received: &Received, secret: &str) {
    Webhook::from_bytes(secret.as_bytes().to_vec())
        .unwrap()
        .verify(&received.body, &received.headers)
        .expect("a Standard Webhooks signature with the agent's secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_run_is_called_back_from_the_outbox_retried_by_visibility_and_swept() {
    let mut stack = Stack::start(1).await;
    let lambda = stack.lambda.clone();
    let receiver = Receiver::start(&[500]).await.unwrap();
    let mut agent = crate::command_agent("notify", "echo done", 1);
    agent["callback_url"] = json!(receiver.url("/hook"));
    let secret = register_agent(&lambda, &agent).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.cloud.sdk);
    let runs = EventSource {
        sqs: sqs.clone(),
        queue_url: stack.cloud.queue.queue.clone(),
        lambda: lambda.clone(),
        function: "executor-lambda",
        concurrency: 2,
    };
    let notices = EventSource {
        sqs: sqs.clone(),
        queue_url: stack.cloud.callbacks.queue.clone(),
        lambda: lambda.clone(),
        function: "callback-lambda",
        concurrency: 2,
    };

    let first = trigger(&lambda, "crew", "notify", &secret, 1).await;
    let ids = [first.clone()];
    runs.drive(Duration::from_secs(60), || all_finished(&lambda, &ids))
        .await;
    let seen = notices
        .drive(Duration::from_secs(60), || async {
            finished_callback(&lambda, &first).await.is_some()
        })
        .await;
    let callback = finished_callback(&lambda, &first).await.unwrap();
    assert_eq!(
        callback["state"],
        "delivered",
        "{callback}\n{}",
        stack.report()
    );
    let codes: Vec<&Value> = callback["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [500, 200], "{callback}");
    // Every invocation but the last left the message in the queue (the last deleted it); the
    // retry's message may come back a moment early and be hidden once more.
    assert!(seen.invocations >= 2, "{seen:?}");
    assert_eq!(seen.failures, seen.invocations - 1, "{seen:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(r.headers["webhook-id"], callback["id"].as_str().unwrap());
        verify(r, &secret);
    }
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["type"], "run.completed");
    assert_eq!(body["data"]["id"], first.as_str());
    assert_eq!(body["data"]["status"], "COMPLETED");
    assert!(body["data"].get("payload").is_none(), "{body}");

    // A notice lost: the sweep finds the callback in the outbox.
    let second = trigger(&lambda, "crew", "notify", &secret, 2).await;
    let ids = [second.clone()];
    runs.drive(Duration::from_secs(60), || all_finished(&lambda, &ids))
        .await;
    sqs.purge_queue()
        .queue_url(&stack.cloud.callbacks.queue)
        .send()
        .await
        .unwrap();
    assert!(finished_callback(&lambda, &second).await.is_none());
    let schedule = json!({"version": "0", "id": "sweep", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "1", "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    let swept = lambda.invoke("callback-lambda", &schedule).await;
    assert_eq!(swept, json!({"attempted": 1}), "{}", stack.report());
    let callback = finished_callback(&lambda, &second).await.unwrap();
    assert_eq!(callback["state"], "delivered", "{callback}");
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    verify(&got[2], &secret);
    let body: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(body["data"]["id"], second.as_str());
}
