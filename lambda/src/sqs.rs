//! The executor on the SQS event source. Every record is a versioned `QueueMessage`; records of
//! one batch run concurrently (up to the executor's own caps), and only the records that must
//! come back are named in `batchItemFailures`.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crewship_core::queue::{Delivery, QueueMessage};
use executor::{Executor, Outcome};
use tokio_util::sync::CancellationToken;

/// Handles a batch. `stop` is fired when the function is about to be frozen or shut down.
pub async fn handle_batch(
    executor: &Executor,
    event: SqsEvent,
    stop: CancellationToken,
) -> SqsBatchResponse {
    let handled = event.records.into_iter().map(|record| async {
        let id = record.message_id.clone().unwrap_or_default();
        (id, handle_record(executor, record, stop.clone()).await)
    });
    let results = futures_util::future::join_all(handled).await;
    let mut response = SqsBatchResponse::default();
    for (id, ok) in results {
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Whether the record is done with (`true`) or must be delivered again (`false`).
async fn handle_record(executor: &Executor, record: SqsMessage, stop: CancellationToken) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or("?");
    let parsed = record
        .body
        .as_deref()
        .map(serde_json::from_str::<QueueMessage>);
    let Some(Ok(QueueMessage::V1 { run_id })) = parsed else {
        // Never valid, so never retried into success: the redrive policy moves it to the
        // dead-letter queue, where it can be inspected.
        tracing::error!(message_id, "queue message is not a valid run envelope");
        return false;
    };
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let delivery = Delivery {
        run_id,
        receipt: record.receipt_handle.unwrap_or_default(),
        receive_count,
    };
    match executor.handle(delivery, stop).await {
        // Over a concurrency cap: the message was hidden for the run's delay (or replaced by a
        // fresh copy before maxReceiveCount); reported as a failure so that the event source
        // does not delete it.
        Ok(Outcome::Deferred { .. }) => false,
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, message_id, "run could not be handled; it will be redelivered");
            false
        }
    }
}
