//! The callbacks queue (docs/callbacks.md, In the cloud): one message per new completion
//! callback, so that `callback-lambda` makes its first attempt at once instead of at the next
//! sweep, and keeps the message hidden until each retry is due. The message only names the
//! callback; what is sent, and whether it still is, is the outbox's.

use std::time::Duration;

use aws_sdk_sqs::Client;
use crewship_core::ids::CallbackId;
use crewship_core::store::BoxError;
use serde::{Deserialize, Serialize};

use crate::boxed;
use crate::sqs::{MAX_VISIBILITY_SECS, whole_secs};

/// The versioned envelope, as the run queue's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum CallbackMessage {
    #[serde(rename = "1")]
    V1 { callback_id: CallbackId },
}

/// The queue: notices in, and a received message hidden until its callback is due.
#[derive(Clone, Debug)]
pub struct CallbackQueue {
    client: Client,
    url: String,
}

impl CallbackQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// On the clients of `sdk`.
    pub fn connect(sdk: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), url)
    }

    /// Tells the queue of a new callback, due at once.
    pub async fn send(&self, id: &CallbackId) -> Result<(), BoxError> {
        let body = serde_json::to_string(&CallbackMessage::V1 {
            callback_id: id.clone(),
        })
        .expect("the envelope serialises");
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(boxed)?;
        Ok(())
    }

    /// Hides a received message for `wait` (whole seconds, at least one, at most SQS's 12 h:
    /// a longer wait costs one more receive, which finds the callback not yet due).
    pub async fn hide(&self, receipt: &str, wait: Duration) -> Result<(), BoxError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs(
                wait.max(Duration::from_secs(1)),
                MAX_VISIBILITY_SECS,
            ))
            .send()
            .await
            .map_err(boxed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_names_its_version_and_the_callback() {
        let id = CallbackId::generate();
        let json = serde_json::to_string(&CallbackMessage::V1 {
            callback_id: id.clone(),
        })
        .unwrap();
        assert_eq!(json, format!(r#"{{"v":"1","callback_id":"{id}"}}"#));
        assert!(serde_json::from_str::<CallbackMessage>(r#"{"v":"2","callback_id":"x"}"#).is_err());
    }
}
