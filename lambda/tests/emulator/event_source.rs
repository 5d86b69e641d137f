//! The SQS event source mapping, the one part of the queue-driven paths that AWS provides and
//! nothing here emulates: it receives from a queue, hands each message to its function
//! (`executor-lambda` from the run queue, `callback-lambda` from the callbacks queue) as an
//! SQS event of one record (the executor's `BatchSize: 1`; the callback function takes up to
//! ten, and one is a batch too), with its
//! real message id, receipt handle, system attributes (`ApproximateReceiveCount` among them)
//! and `eventSourceARN`, up to `MaximumConcurrency` invocations at once, and deletes each
//! message the function's answer did not name in `batchItemFailures`
//! (`ReportBatchItemFailures`). A named message stays, hidden as the function left it
//! (deferral by visibility), until the queue offers it again.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::emulator::Lambda;

/// What the mapping saw while it ran.
#[derive(Debug, Default)]
pub struct Seen {
    pub invocations: usize,
    /// Records the function reported as failed (deferred, or an error).
    pub failures: usize,
    /// The highest `ApproximateReceiveCount` handed over.
    pub max_receive_count: u32,
}

pub struct EventSource {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub lambda: Lambda,
    /// The function invoked.
    pub function: &'static str,
    /// `MaximumConcurrency`: invocations at once.
    pub concurrency: usize,
}

impl EventSource {
    async fn queue_arn(&self) -> String {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        attributes[&QueueAttributeName::QueueArn].clone()
    }

    /// Polls and invokes until `done` answers true with nothing in flight; panics at `limit`.
    pub async fn drive<F, Fut>(&self, limit: Duration, mut done: F) -> Seen
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let arn = self.queue_arn().await;
        let deadline = Instant::now() + limit;
        let mut seen = Seen::default();
        let mut in_flight: JoinSet<(u32, bool)> = JoinSet::new();
        loop {
            while let Some(finished) = in_flight.try_join_next() {
                let (receive_count, failed) = finished.expect("an invocation task");
                seen.invocations += 1;
                seen.failures += usize::from(failed);
                seen.max_receive_count = seen.max_receive_count.max(receive_count);
            }
            if in_flight.is_empty() && done().await {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "not done within {limit:?}: {seen:?}"
            );
            let free = self.concurrency - in_flight.len();
            if free == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            for message in self.receive(free).await {
                let (sqs, url, lambda, function) = (
                    self.sqs.clone(),
                    self.queue_url.clone(),
                    self.lambda.clone(),
                    self.function,
                );
                let arn = arn.clone();
                in_flight.spawn(async move {
                    deliver(&sqs, &url, &lambda, function, &arn, message).await
                });
            }
        }
    }

    async fn receive(&self, max: usize) -> Vec<Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10).min(10))
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default()
    }
}

/// One invocation of one record; its receive count and whether the function named it failed.
async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    lambda: &Lambda,
    function: &str,
    arn: &str,
    message: Message,
) -> (u32, bool) {
    let attributes: serde_json::Map<String, Value> = message
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                .collect()
        })
        .unwrap_or_default();
    let receive_count = attributes
        .get("ApproximateReceiveCount")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .expect("ApproximateReceiveCount");
    let id = message.message_id().expect("a message id").to_owned();
    let receipt = message
        .receipt_handle()
        .expect("a receipt handle")
        .to_owned();
    let event = json!({"Records": [{
        "messageId": id,
        "receiptHandle": receipt,
        "body": message.body(),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }]});
    let answer = lambda.invoke(function, &event).await;
    let failed = answer["batchItemFailures"]
        .as_array()
        .expect("a batch response (ReportBatchItemFailures)")
        .iter()
        .any(|f| f["itemIdentifier"] == json!(id));
    if !failed {
        // The function may have deleted it already (it acknowledges what it finished); the
        // mapping's delete of a gone message changes nothing, as on SQS.
        let _ = sqs
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(&receipt)
            .send()
            .await;
    }
    (receive_count, failed)
}
