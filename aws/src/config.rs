//! Which adapters run, chosen once from the environment, and the one function that builds the
//! ports from that choice. AWS clients are built here, once, from the standard AWS environment
//! (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` for a local server such as moto).
//!
//! | variable | meaning |
//! |---|---|
//! | `CREWSHIP_STORE` | `memory` (default) or `dynamodb` |
//! | `CREWSHIP_TABLE_PREFIX` | tables `<prefix>-runs`, `-dedup`, `-chats`, `-logs`, `-agents` (default `crewship`) |
//! | `CREWSHIP_{RUNS,DEDUP,CHATS,LOGS,AGENTS}_TABLE` | override one table name |
//! | `CREWSHIP_PAYLOAD_BUCKET` | S3 bucket for large payloads (required with `dynamodb`) |
//! | `CREWSHIP_SECRETS_KEY` | base64 32-byte AES-256-GCM key sealing agent records |
//! | `CREWSHIP_ALLOW_PLAINTEXT_SECRETS` | `true` to store agent records unsealed (no key) |
//! | `CREWSHIP_QUEUE` | `memory` or `sqs` (default `sqs` when `CREWSHIP_QUEUE_URL` is set) |
//! | `CREWSHIP_QUEUE_URL` | the SQS queue URL |

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use crewship_core::broadcast::Hub;
use crewship_core::clock::SystemClock;
use crewship_core::logs::{LogSink, MemoryLogs};
use crewship_core::ports::Ports;
use crewship_core::queue::{MemoryQueue, RunQueue};
use crewship_core::registry::{AgentRegistry, MemoryRegistry};
use crewship_core::store::{ChatStore, DedupStore, MemoryStore, RunStore};

use crate::dynamodb::{
    DynamoChatStore, DynamoDedupStore, DynamoLogs, DynamoRegistry, DynamoRunStore, Tables,
};
use crate::payloads::S3Payloads;
use crate::seal::{SealError, Sealing};
use crate::sqs::SqsQueue;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("CREWSHIP_SECRETS_KEY is invalid")]
    Key(#[source] SealError),
    #[error(
        "agent records would be stored in plaintext: set CREWSHIP_SECRETS_KEY (base64, 32 bytes) \
         or explicitly CREWSHIP_ALLOW_PLAINTEXT_SECRETS=true"
    )]
    PlaintextRefused,
}

#[derive(Debug, Clone)]
pub enum StoreBackend {
    Memory,
    DynamoDb {
        tables: Tables,
        bucket: String,
        sealing: Sealing,
    },
}

#[derive(Debug, Clone)]
pub enum QueueBackend {
    /// In-process; messages reappear after `visibility` unless acked.
    Memory {
        visibility: Duration,
    },
    Sqs {
        url: String,
    },
}

#[derive(Debug, Clone)]
pub struct Backends {
    pub store: StoreBackend,
    pub queue: QueueBackend,
}

impl Backends {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// From any variable source (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = match var("CREWSHIP_STORE").as_deref().unwrap_or("memory") {
            "memory" => StoreBackend::Memory,
            "dynamodb" => {
                let prefix = var("CREWSHIP_TABLE_PREFIX").unwrap_or_else(|| "crewship".into());
                let mut tables = Tables::with_prefix(&prefix);
                for (name, slot) in [
                    ("CREWSHIP_RUNS_TABLE", &mut tables.runs),
                    ("CREWSHIP_DEDUP_TABLE", &mut tables.dedup),
                    ("CREWSHIP_CHATS_TABLE", &mut tables.chats),
                    ("CREWSHIP_LOGS_TABLE", &mut tables.logs),
                    ("CREWSHIP_AGENTS_TABLE", &mut tables.agents),
                ] {
                    if let Some(v) = var(name) {
                        *slot = v;
                    }
                }
                let bucket = var("CREWSHIP_PAYLOAD_BUCKET").ok_or(ConfigError::Invalid {
                    name: "CREWSHIP_PAYLOAD_BUCKET",
                    problem: "required with CREWSHIP_STORE=dynamodb".into(),
                })?;
                let sealing = match var("CREWSHIP_SECRETS_KEY") {
                    Some(key) => Sealing::from_base64_key(&key).map_err(ConfigError::Key)?,
                    None if var("CREWSHIP_ALLOW_PLAINTEXT_SECRETS").as_deref() == Some("true") => {
                        Sealing::Plaintext
                    }
                    None => return Err(ConfigError::PlaintextRefused),
                };
                StoreBackend::DynamoDb {
                    tables,
                    bucket,
                    sealing,
                }
            }
            other => {
                return Err(ConfigError::Invalid {
                    name: "CREWSHIP_STORE",
                    problem: format!("{other:?} is not memory or dynamodb"),
                });
            }
        };
        let url = var("CREWSHIP_QUEUE_URL");
        let default_queue = if url.is_some() { "sqs" } else { "memory" };
        let queue = match var("CREWSHIP_QUEUE").as_deref().unwrap_or(default_queue) {
            "memory" => QueueBackend::Memory {
                visibility: Duration::from_secs(60),
            },
            "sqs" => QueueBackend::Sqs {
                url: url.ok_or(ConfigError::Invalid {
                    name: "CREWSHIP_QUEUE_URL",
                    problem: "required with CREWSHIP_QUEUE=sqs".into(),
                })?,
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "CREWSHIP_QUEUE",
                    problem: format!("{other:?} is not memory or sqs"),
                });
            }
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
        String,
        String,
    );
    let (runs, dedup, chats, agents, logs, registry_name, log_writer_name): Stores =
        match &backends.store {
            StoreBackend::DynamoDb {
                tables,
                bucket,
                sealing,
            } => {
                let client = aws_sdk_dynamodb::Client::new(sdk);
                let payloads = S3Payloads::new(s3_client(sdk), bucket);
                (
                    Arc::new(DynamoRunStore::new(client.clone(), &tables.runs, payloads)),
                    Arc::new(DynamoDedupStore::new(client.clone(), &tables.dedup)),
                    Arc::new(DynamoChatStore::new(client.clone(), &tables.chats)),
                    Arc::new(DynamoRegistry::new(
                        client.clone(),
                        &tables.agents,
                        sealing.clone(),
                    )),
                    Arc::new(DynamoLogs::new(client, &tables.logs)),
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
                    "in-memory registry".into(),
                    "in-memory log store".into(),
                )
            }
        };
    let queue: Arc<dyn RunQueue> = match &backends.queue {
        QueueBackend::Sqs { url } => Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), url)),
        QueueBackend::Memory { visibility } => Arc::new(MemoryQueue::new(*visibility)),
    };
    let ports = Ports {
        runs,
        dedup,
        chats,
        queue,
        agents,
        logs,
        broadcaster: hub.clone(),
        clock: Arc::new(SystemClock),
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
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Backends, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Backends::from_vars(|name| map.get(name).cloned())
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
        assert!(matches!(b.queue, QueueBackend::Sqs { url } if url == "https://sqs.example/1/q"));
    }

    #[test]
    fn plaintext_secrets_are_refused_unless_explicitly_allowed() {
        let base = [
            ("CREWSHIP_STORE", "dynamodb"),
            ("CREWSHIP_PAYLOAD_BUCKET", "bucket"),
        ];
        assert!(matches!(parse(&base), Err(ConfigError::PlaintextRefused)));
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
        assert!(matches!(parse(&bad_key), Err(ConfigError::Key(_))));
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
        assert!(parse(&[("CREWSHIP_STORE", "redis")]).is_err());
        assert!(parse(&[("CREWSHIP_QUEUE", "sqs")]).is_err());
    }
}

/// `CREWSHIP_API_TOKENS`: monitoring tokens as `workspace=token` pairs, comma-separated.
pub fn parse_api_tokens(text: &str) -> Result<Vec<handler::ApiToken>, ConfigError> {
    let invalid = |problem: &str| ConfigError::Invalid {
        name: "CREWSHIP_API_TOKENS",
        problem: problem.into(),
    };
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (workspace, token) = pair
                .split_once('=')
                .ok_or_else(|| invalid("expected workspace=token pairs"))?;
            Ok(handler::ApiToken {
                token: crewship_core::secret::Secret::new(token.trim()),
                workspace_id: workspace
                    .trim()
                    .parse()
                    .map_err(|_| invalid("a workspace id is not valid"))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod api_token_tests {
    use super::*;

    #[test]
    fn api_tokens_parse_and_refuse_malformed_pairs() {
        let tokens = parse_api_tokens(" ws_a=t1, ws-b=t2 ").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].workspace_id.as_str(), "ws-b");
        assert_eq!(tokens[1].token.expose(), "t2");
        assert!(parse_api_tokens("no-equals-sign").is_err());
        assert!(parse_api_tokens("bad workspace=t").is_err());
        assert!(parse_api_tokens("").unwrap().is_empty());
    }
}
