//! Provisioning a fresh, uniquely named set of tables, queues and bucket on moto, for the AWS
//! adapters' tests and the cloud bins' tests.

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use crewship_aws::config::{Backends, QueueBackend, StoreBackend, s3_client};
use crewship_aws::dynamodb::Tables;
use crewship_aws::provision::{self, QueueUrls};
use crewship_aws::seal::Sealing;

pub use crate::moto::{self, Moto};

pub fn test_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 32])
}

/// What a test provisioned.
pub struct Cloud {
    pub prefix: String,
    pub tables: Tables,
    pub bucket: String,
    pub queue: QueueUrls,
    /// The callbacks queue (`queue.callbacks_url`) and its dead-letter queue.
    pub callbacks: QueueUrls,
    pub sdk: aws_config::SdkConfig,
}

impl Cloud {
    pub fn backends(&self) -> Backends {
        Backends {
            store: StoreBackend::DynamoDb {
                tables: self.tables.clone(),
                bucket: self.bucket.clone(),
                sealing: Sealing::from_base64_key(&test_key()).unwrap(),
                retention: time::Duration::days(90),
            },
            queue: QueueBackend::Sqs {
                url: self.queue.queue.clone(),
                callbacks_url: Some(self.callbacks.queue.clone()),
            },
        }
    }

    /// The variables a bin needs for these resources (besides [`Moto::env`]).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CREWSHIP_STORE", "dynamodb".into()),
            ("CREWSHIP_TABLE_PREFIX", self.prefix.clone()),
            ("CREWSHIP_PAYLOAD_BUCKET", self.bucket.clone()),
            ("CREWSHIP_SECRETS_KEY", test_key()),
            ("CREWSHIP_QUEUE_URL", self.queue.queue.clone()),
            ("CREWSHIP_CALLBACKS_QUEUE_URL", self.callbacks.queue.clone()),
        ]
    }
}

/// Unique names per test, even across test binaries sharing one server.
pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    )
}

pub async fn provision(moto: &Moto, visibility_secs: u32, max_receives: u32) -> Cloud {
    let sdk = moto.sdk_config().await;
    let prefix = unique_prefix();
    let tables = Tables::with_prefix(&prefix);
    provision::create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &tables)
        .await
        .expect("creating tables");
    let bucket = format!("{prefix}-payloads");
    provision::create_bucket(&s3_client(&sdk), &bucket)
        .await
        .expect("creating the bucket");
    let queue = provision::create_queue(
        &aws_sdk_sqs::Client::new(&sdk),
        &format!("{prefix}-runs"),
        visibility_secs,
        max_receives,
    )
    .await
    .expect("creating the queues");
    let callbacks = provision::create_queue(
        &aws_sdk_sqs::Client::new(&sdk),
        &format!("{prefix}-callbacks"),
        visibility_secs,
        provision::CALLBACK_MAX_RECEIVES,
    )
    .await
    .expect("creating the callbacks queues");
    Cloud {
        prefix,
        tables,
        bucket,
        queue,
        callbacks,
        sdk,
    }
}
