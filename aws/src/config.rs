//! Which adapters run, chosen once from the `[store]` and `[queue]` settings (docs/configuration.md),
//! and the one function that builds the ports from that choice. AWS clients are built here,
//! once, from the standard AWS environment (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL`
//! for a local server such as moto).

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use crewship_core::broadcast::Hub;
use crewship_core::callbacks::{CallbackOutbox, DisabledOutbox};
use crewship_core::clock::{Clock, SystemClock};
use crewship_core::intake::SeparateIntake;
use crewship_core::logs::{LogSink, MemoryLogs};
use crewship_core::ports::Ports;
use crewship_core::queue::{MemoryQueue, RunQueue};
use crewship_core::registry::{AgentRegistry, MemoryRegistry};
use crewship_core::store::{ChatStore, DedupStore, MemoryStore, RunStore};
use crewship_settings::model::{QueueKind, StoreKind};
use crewship_settings::{Settings, SettingsError};

use crate::callback_queue::CallbackQueue;
use crate::dynamodb::{
    DynamoChatStore, DynamoDedupStore, DynamoLogs, DynamoOutbox, DynamoRegistry, DynamoRunStore,
    Tables,
};
use crate::payloads::S3Payloads;
use crate::seal::Sealing;
use crate::sqs::SqsQueue;

#[derive(Debug, Clone)]
pub enum StoreBackend {
    Memory,
    DynamoDb {
        tables: Tables,
        bucket: String,
        sealing: Sealing,
        /// Runs and their logs expire (DynamoDB TTL) this long after the run was created.
        retention: time::Duration,
    },
}

#[derive(Debug, Clone)]
pub enum QueueBackend {
    /// In-process; messages reappear after `visibility` unless acked.
    Memory { visibility: Duration },
    Sqs {
        url: String,
        /// The callbacks queue, told of every new callback (`queue.callbacks_url`).
        callbacks_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Backends {
    pub store: StoreBackend,
    pub queue: QueueBackend,
}

impl Backends {
    /// The backends the settings name. The store's sealing key is decoded here, where the
    /// sealing lives; every other check ran when the settings were loaded.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let st = &settings.store;
        let store = match settings.store_kind()? {
            StoreKind::Memory => StoreBackend::Memory,
            StoreKind::Sqlite => {
                return Err(SettingsError::new(
                    "store.backend",
                    "sqlite is served by local-runner only",
                ));
            }
            StoreKind::Dynamodb => {
                let mut tables = Tables::with_prefix(&st.table_prefix);
                for (name, slot) in [
                    (&st.runs_table, &mut tables.runs),
                    (&st.dedup_table, &mut tables.dedup),
                    (&st.chats_table, &mut tables.chats),
                    (&st.logs_table, &mut tables.logs),
                    (&st.agents_table, &mut tables.agents),
                    (&st.callbacks_table, &mut tables.callbacks),
                ] {
                    if let Some(name) = name {
                        slot.clone_from(name);
                    }
                }
                let bucket = st.payload_bucket.clone().ok_or_else(|| {
                    SettingsError::new(
                        "store.payload_bucket",
                        "required with store.backend = dynamodb",
                    )
                })?;
                let sealing = match &st.secrets_key {
                    Some(key) => Sealing::from_base64_key(key.expose()).map_err(|e| {
                        SettingsError::new("store.secrets_key", format!("is invalid: {e}"))
                    })?,
                    None if st.allow_plaintext_secrets => Sealing::Plaintext,
                    None => {
                        return Err(SettingsError::new(
                            "store.secrets_key",
                            "agent records would be stored in plaintext: set CREWSHIP_SECRETS_KEY \
                             (base64, 32 bytes) or explicitly CREWSHIP_ALLOW_PLAINTEXT_SECRETS=true",
                        ));
                    }
                };
                StoreBackend::DynamoDb {
                    tables,
                    bucket,
                    sealing,
                    retention: time::Duration::days(i64::from(st.retention_days)),
                }
            }
        };
        let queue = match settings.queue_kind()? {
            QueueKind::Memory => QueueBackend::Memory {
                visibility: Duration::from_secs(60),
            },
            QueueKind::Sqs => QueueBackend::Sqs {
                url: settings.queue.url.clone().ok_or_else(|| {
                    SettingsError::new("queue.url", "required with queue.backend = sqs")
                })?,
                callbacks_url: settings.queue.callbacks_url.clone(),
            },
        };
        Ok(Self { store, queue })
    }

    fn needs_aws(&self) -> bool {
        matches!(self.store, StoreBackend::DynamoDb { .. })
            || matches!(self.queue, QueueBackend::Sqs { .. })
    }
}

/// The ports, and what they are, by name, for the handler's prerequisites.
pub struct BuiltPorts {
    pub ports: Ports,
    /// The in-process hub the local `/ws` endpoint serves from.
    pub hub: Arc<Hub>,
    pub registry_name: String,
    pub log_writer_name: String,
}

/// Loads the shared AWS configuration from the environment.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client; path-style addressing when an endpoint is configured (moto, MinIO), where
/// virtual-host bucket names do not resolve.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Builds the ports, loading the AWS configuration from the environment when a backend needs
/// it (and only then: without `AWS_REGION`, loading probes the instance metadata service).
pub async fn build_ports(backends: &Backends) -> BuiltPorts {
    let sdk = if backends.needs_aws() {
        aws_sdk_config().await
    } else {
        aws_config::SdkConfig::builder().build()
    };
    build_ports_with(backends, &sdk)
}

/// The one place adapters are chosen. Clients are built once, from `sdk`, and shared.
pub fn build_ports_with(backends: &Backends, sdk: &aws_config::SdkConfig) -> BuiltPorts {
    let hub = Arc::new(Hub::new());
    type Stores = (
        Arc<dyn RunStore>,
        Arc<dyn DedupStore>,
        Arc<dyn ChatStore>,
        Arc<dyn AgentRegistry>,
        Arc<dyn LogSink>,
        Arc<dyn CallbackOutbox>,
        String,
        String,
    );
    let (runs, dedup, chats, agents, logs, callbacks, registry_name, log_writer_name): Stores =
        match &backends.store {
            StoreBackend::DynamoDb {
                tables,
                bucket,
                sealing,
                retention,
            } => {
                let client = aws_sdk_dynamodb::Client::new(sdk);
                let payloads = S3Payloads::new(s3_client(sdk), bucket);
                let mut outbox = DynamoOutbox::new(client.clone(), &tables.callbacks, *retention);
                if let QueueBackend::Sqs {
                    callbacks_url: Some(url),
                    ..
                } = &backends.queue
                {
                    outbox =
                        outbox.with_queue(CallbackQueue::new(aws_sdk_sqs::Client::new(sdk), url));
                }
                (
                    Arc::new(
                        DynamoRunStore::new(client.clone(), &tables.runs, payloads)
                            .with_retention(*retention),
                    ),
                    Arc::new(DynamoDedupStore::new(client.clone(), &tables.dedup)),
                    Arc::new(DynamoChatStore::new(client.clone(), &tables.chats)),
                    Arc::new(DynamoRegistry::new(
                        client.clone(),
                        &tables.agents,
                        sealing.clone(),
                    )),
                    Arc::new(DynamoLogs::new(client, &tables.logs).with_retention(*retention)),
                    Arc::new(outbox),
                    format!("DynamoDB table {}", tables.agents),
                    format!("DynamoDB table {}", tables.logs),
                )
            }
            StoreBackend::Memory => {
                let store = Arc::new(MemoryStore::new());
                (
                    store.clone(),
                    store.clone(),
                    store,
                    Arc::new(MemoryRegistry::default()),
                    Arc::new(MemoryLogs::new()),
                    // Nothing shares this process's memory: no other process could deliver
                    // what it kept, and the servers on it run no delivery worker.
                    Arc::new(DisabledOutbox),
                    "in-memory registry".into(),
                    "in-memory log store".into(),
                )
            }
        };
    let queue: Arc<dyn RunQueue> = match &backends.queue {
        QueueBackend::Sqs { url, .. } => {
            Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url))
        }
        QueueBackend::Memory { visibility } => Arc::new(MemoryQueue::new(*visibility)),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // DynamoDB and SQS share no transaction: the run and its message are two writes.
    let intake = Arc::new(SeparateIntake::new(
        runs.clone(),
        queue.clone(),
        clock.clone(),
    ));
    let ports = Ports {
        intake,
        runs,
        dedup,
        chats,
        queue,
        agents,
        logs,
        broadcaster: hub.clone(),
        callbacks,
        clock,
    };
    BuiltPorts {
        ports,
        hub,
        registry_name,
        log_writer_name,
    }
}

#[cfg(test)]
mod tests {
    use crewship_settings::{Bin, File, env_overrides, load};

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Backends, SettingsError> {
        let overrides = env_overrides(Bin::Executor, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        Backends::from_settings(&load(Bin::Executor, File::None, &overrides)?)
    }

    const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

    #[test]
    fn nothing_set_means_memory_adapters() {
        let b = parse(&[]).unwrap();
        assert!(matches!(b.store, StoreBackend::Memory));
        assert!(matches!(b.queue, QueueBackend::Memory { .. }));
    }

    #[test]
    fn dynamodb_with_a_key_and_a_queue_url() {
        let b = parse(&[
            ("CREWSHIP_STORE", "dynamodb"),
            ("CREWSHIP_TABLE_PREFIX", "prod"),
            ("CREWSHIP_LOGS_TABLE", "custom-logs"),
            ("CREWSHIP_PAYLOAD_BUCKET", "bucket"),
            ("CREWSHIP_SECRETS_KEY", KEY),
            ("CREWSHIP_QUEUE_URL", "https://sqs.example/1/q"),
        ])
        .unwrap();
        let StoreBackend::DynamoDb {
            tables, sealing, ..
        } = b.store
        else {
            panic!("not dynamodb");
        };
        assert_eq!(tables.runs, "prod-runs");
        assert_eq!(tables.logs, "custom-logs");
        assert!(matches!(sealing, Sealing::Aes256Gcm(_)));
        assert!(
            matches!(b.queue, QueueBackend::Sqs { url, callbacks_url: None } if url == "https://sqs.example/1/q")
        );
    }

    #[test]
    fn plaintext_secrets_are_refused_unless_explicitly_allowed() {
        let base = [
            ("CREWSHIP_STORE", "dynamodb"),
            ("CREWSHIP_PAYLOAD_BUCKET", "bucket"),
        ];
        assert_eq!(parse(&base).unwrap_err().key, "store.secrets_key");
        let mut allowed = base.to_vec();
        allowed.push(("CREWSHIP_ALLOW_PLAINTEXT_SECRETS", "true"));
        let b = parse(&allowed).unwrap();
        assert!(matches!(
            b.store,
            StoreBackend::DynamoDb {
                sealing: Sealing::Plaintext,
                ..
            }
        ));
        let mut bad_key = base.to_vec();
        bad_key.push(("CREWSHIP_SECRETS_KEY", "c2hvcnQ="));
        let e = parse(&bad_key).unwrap_err();
        assert_eq!(e.key, "store.secrets_key");
        assert!(!e.to_string().contains("c2hvcnQ="), "{e}");
    }

    #[test]
    fn missing_or_unknown_settings_are_errors() {
        assert!(
            parse(&[
                ("CREWSHIP_STORE", "dynamodb"),
                ("CREWSHIP_SECRETS_KEY", KEY)
            ])
            .is_err()
        );
        assert_eq!(
            parse(&[("CREWSHIP_STORE", "redis")]).unwrap_err().key,
            "store.backend"
        );
        assert_eq!(
            parse(&[("CREWSHIP_QUEUE", "sqs")]).unwrap_err().key,
            "queue.url"
        );
    }
}
