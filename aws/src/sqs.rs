//! The run queue on SQS. A message is the versioned `QueueMessage` envelope, a few dozen bytes,
//! so the 256 KiB limit cannot be reached. Redelivery after the visibility timeout and the
//! dead-letter queue after N receives are SQS's (the redrive policy is set on the queue).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use crewship_core::ids::RunId;
use crewship_core::queue::{Delivery, MAX_SEND_DELAY, QueueError, QueueMessage, RunQueue};

use crate::boxed;

/// SQS's limits: 10 messages per receive, 20 s long poll, 12 h visibility.
const MAX_BATCH: usize = 10;
const MAX_WAIT_SECS: u64 = 20;
pub(crate) const MAX_VISIBILITY_SECS: u64 = 12 * 3600;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> QueueError {
    QueueError::Unavailable(boxed(e))
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

/// Whole seconds, rounded up, so a short wait or deferral never becomes zero.
pub(crate) fn whole_secs(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

#[async_trait]
impl RunQueue for SqsQueue {
    #[tracing::instrument(skip(self), fields(run_id = %run))]
    async fn send(&self, run: &RunId) -> Result<(), QueueError> {
        self.send_delayed(run, Duration::ZERO).await
    }

    #[tracing::instrument(skip(self), fields(run_id = %run))]
    async fn send_delayed(&self, run: &RunId, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(&QueueMessage::V1 {
            run_id: run.clone(),
        })
        .expect("the envelope serialises");
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        if !delay.is_zero() {
            request = request.delay_seconds(whole_secs(delay, MAX_SEND_DELAY.as_secs()));
        }
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1))
            .wait_time_seconds(whole_secs(wait, MAX_WAIT_SECS))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(unavailable)?;
        let mut deliveries = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let Some(receipt) = message.receipt_handle else {
                continue;
            };
            let parsed = message
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<QueueMessage>(b).ok());
            let Some(QueueMessage::V1 { run_id }) = parsed else {
                // Not ours to understand (a newer envelope, garbage): left alone, it ends in
                // the dead-letter queue after its receives run out.
                tracing::warn!(
                    bytes = message.body.as_deref().map_or(0, str::len),
                    "unreadable queue message skipped"
                );
                continue;
            };
            let receive_count = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                run_id,
                receipt,
                receive_count,
            });
        }
        Ok(deliveries)
    }

    #[tracing::instrument(skip_all)]
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_receipt_handle_is_invalid()) =>
            {
                Err(QueueError::UnknownReceipt)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip(self, receipt))]
    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        match self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs(visibility, MAX_VISIBILITY_SECS))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_receipt_handle_is_invalid()) =>
            {
                Err(QueueError::UnknownReceipt)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
