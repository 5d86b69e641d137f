//! The typed settings: what the layers deserialize into. Sections apply to the binaries
//! `keys::KEYS` says; a binary reads only its own.

use std::net::SocketAddr;
use std::path::PathBuf;

use crewship_core::agent_spec::AgentSpec;
use crewship_core::secret::Secret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    pub executor: Executor,
    pub store: Store,
    pub queue: Queue,
    pub retention: Retention,
    pub ws: Ws,
    pub log: Log,
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
}

/// The handler's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    pub internal_token: Option<Secret>,
    pub body_limit_bytes: usize,
    pub max_json_depth: usize,
    pub timestamp_tolerance_secs: u64,
    pub dedup_window_secs: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub legacy_secret_sunset: OffsetDateTime,
    pub secret_rotation_grace_secs: u64,
    pub api_tokens: Option<Secret>,
    pub container_runtime: Option<String>,
    pub header_read_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub callback_allow_private: bool,
    pub callback_retry_secs: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Executor {
    pub run_timeout_secs: u64,
    pub max_concurrent_runs: usize,
    pub kill_grace_secs: u64,
    pub shutdown_grace_secs: u64,
    pub lease_ms: u64,
    pub heartbeat_ms: u64,
    pub poll_wait_secs: u64,
    pub max_receives: u32,
    pub requeue_after_secs: u64,
    pub work_dir: Option<PathBuf>,
    pub runtime: RuntimeKind,
    pub keeper_url: Option<String>,
    pub keeper_token: Option<Secret>,
    pub docker_host: Option<String>,
    pub docker_image: Option<String>,
    pub docker_user: String,
    pub docker_idle_stop_secs: u64,
    pub docker_memory_mb: u32,
    pub docker_millicpus: u32,
    pub docker_pids_limit: u32,
    pub docker_name_prefix: String,
    pub keeper_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Process,
    Sandbox,
    Docker,
    Keeper,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// Unset: `sqlite` when `path` is set, else `memory` (`Settings::store_kind`).
    pub backend: Option<StoreKind>,
    /// The SQLite database file.
    pub path: Option<PathBuf>,
    pub table_prefix: String,
    pub runs_table: Option<String>,
    pub dedup_table: Option<String>,
    pub chats_table: Option<String>,
    pub logs_table: Option<String>,
    pub agents_table: Option<String>,
    pub callbacks_table: Option<String>,
    pub payload_bucket: Option<String>,
    pub secrets_key: Option<Secret>,
    pub allow_plaintext_secrets: bool,
    pub retention_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Dynamodb,
    Sqlite,
}

/// What finished history a single-machine store keeps (memory and SQLite;
/// docs/stores.md, Retention).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub max_age_secs: u64,
    pub max_runs_per_agent: u64,
    pub log_max_lines: u64,
    pub log_max_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Unset: `sqs` when `url` is set, else `memory`.
    pub backend: Option<QueueKind>,
    pub url: Option<String>,
    /// The callbacks queue (cloud delivery, docs/callbacks.md).
    pub callbacks_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    Memory,
    Sqs,
}

/// The WebSocket API on API Gateway (the Lambda bins).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ws {
    pub connections_table: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub token: Secret,
    pub workspace_id: String,
}
