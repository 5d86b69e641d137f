//! Run payloads too large for a DynamoDB item, kept in S3 and referenced from the run.

use aws_sdk_s3::primitives::ByteStream;
use crewship_core::ids::RunId;
use crewship_core::store::StoreError;
use serde_json::value::RawValue;

use crate::boxed;
use crate::dynamodb::MalformedItem;

#[derive(Clone, Debug)]
pub struct S3Payloads {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Payloads {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn key(run: &RunId) -> String {
        format!("payloads/{run}.json")
    }

    #[tracing::instrument(skip(self, payload), fields(bytes = payload.get().len()))]
    pub async fn put(&self, run: &RunId, payload: &RawValue) -> Result<String, StoreError> {
        let key = Self::key(run);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(payload.get().as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(boxed(e)))?;
        Ok(key)
    }

    /// The payload under `key`; `None` when the object is gone (expired by the bucket's
    /// lifecycle before its run, or deleted).
    #[tracing::instrument(skip(self))]
    pub async fn get(&self, key: &str) -> Result<Option<Box<RawValue>>, StoreError> {
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(StoreError::Unavailable(boxed(e))),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(boxed(e)))?
            .into_bytes();
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|e| StoreError::Unavailable(boxed(MalformedItem(format!("payload: {e}")))))?;
        RawValue::from_string(text)
            .map(Some)
            .map_err(|e| StoreError::Unavailable(boxed(MalformedItem(format!("payload: {e}")))))
    }
}
