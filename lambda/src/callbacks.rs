//! The callback function (bin `callback-lambda`, docs/callbacks.md, In the cloud). Each record
//! of the callbacks queue names one callback: the worker makes its attempt when it is due, and
//! a callback still pending keeps its message, hidden until its next attempt is due (reported
//! as a batch item failure, so that the event source does not delete it). Invoked by the
//! schedule instead, it delivers the due callbacks that have no message.

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crewship_aws::callback_queue::{CallbackMessage, CallbackQueue};
use executor::callbacks::{CallbackWorker, Next};
use serde::Serialize;

/// How long one sweep keeps claiming batches: well inside the function's 60 s timeout, with
/// room for the last batch's 10 s attempts.
pub const SWEEP_BUDGET: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CallbackResponse {
    Batch(SqsBatchResponse),
    Swept { attempted: usize },
}

/// Handles a batch; its records' attempts run concurrently.
pub async fn handle_batch(
    worker: &CallbackWorker,
    queue: &CallbackQueue,
    event: SqsEvent,
) -> SqsBatchResponse {
    let handled = event.records.into_iter().map(|record| async {
        let id = record.message_id.clone().unwrap_or_default();
        (id, handle_record(worker, queue, record).await)
    });
    let mut response = SqsBatchResponse::default();
    for (id, done) in futures_util::future::join_all(handled).await {
        if !done {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Whether the message is done with (`true`) or must come back (`false`).
async fn handle_record(worker: &CallbackWorker, queue: &CallbackQueue, record: SqsMessage) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or("?");
    let parsed = record
        .body
        .as_deref()
        .map(serde_json::from_str::<CallbackMessage>);
    let Some(Ok(CallbackMessage::V1 { callback_id })) = parsed else {
        // Names no callback, so no retry can deliver anything: dropped, not dead-lettered.
        tracing::error!(
            message_id,
            "callbacks queue message is not a valid envelope; deleted"
        );
        return true;
    };
    match worker.attempt_named(&callback_id).await {
        Ok(Next::Done) => true,
        Ok(Next::At(at)) => {
            let wait = (at - time::OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or(Duration::ZERO);
            let receipt = record.receipt_handle.as_deref().unwrap_or_default();
            if let Err(e) = queue.hide(receipt, wait).await {
                // It comes back after the queue's visibility timeout and is hidden again then.
                tracing::warn!(error = %e, message_id, "hiding the callback's message failed");
            }
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, message_id, %callback_id, "the callback outbox is unavailable; the message comes back");
            false
        }
    }
}

/// Claims and attempts due callbacks, batch after batch, for at most [`SWEEP_BUDGET`].
pub async fn sweep(worker: &CallbackWorker) -> CallbackResponse {
    let started = tokio::time::Instant::now();
    let mut attempted = 0;
    while started.elapsed() < SWEEP_BUDGET {
        match worker.step().await {
            Ok(0) => break,
            Ok(n) => attempted += n,
            Err(e) => {
                tracing::warn!(error = %e, "the callback outbox is unavailable; the next sweep tries again");
                break;
            }
        }
    }
    CallbackResponse::Swept { attempted }
}
