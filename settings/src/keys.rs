//! Every setting's name, environment variable, flag and the binaries it applies to: the one
//! table the loader, the flags and `docs/configuration.md` are made from.

/// The binaries, each reading the settings that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    LocalRunner,
    Server,
    Executor,
    Provision,
    HandlerLambda,
    ExecutorLambda,
    WsLambda,
    CallbackLambda,
}

impl Bin {
    pub const ALL: [Bin; 8] = [
        Bin::LocalRunner,
        Bin::Server,
        Bin::Executor,
        Bin::Provision,
        Bin::HandlerLambda,
        Bin::ExecutorLambda,
        Bin::WsLambda,
        Bin::CallbackLambda,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bin::LocalRunner => "local-runner",
            Bin::Server => "crewship-server",
            Bin::Executor => "crewship-executor",
            Bin::Provision => "crewship-provision",
            Bin::HandlerLambda => "handler-lambda",
            Bin::ExecutorLambda => "executor-lambda",
            Bin::WsLambda => "ws-lambda",
            Bin::CallbackLambda => "callback-lambda",
        }
    }

    /// The Lambda functions read the environment only (no flags).
    pub fn is_lambda(self) -> bool {
        matches!(
            self,
            Bin::HandlerLambda | Bin::ExecutorLambda | Bin::WsLambda | Bin::CallbackLambda
        )
    }
}

/// How an environment variable's or a flag's text becomes a value; the typed structure checks
/// the rest (enum names, addresses, times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Text never shown: `--help` hides its environment value.
    Secret,
    Int,
    Bool,
    /// An array of tables, given in the file only.
    FileOnly,
}

#[derive(Debug)]
pub struct Key {
    /// Dotted path in the TOML file, e.g. `executor.runtime`.
    pub path: &'static str,
    /// `CREWSHIP_…`; the flag is its tail in kebab case (`CREWSHIP_RUN_TIMEOUT_SECS` →
    /// `--run-timeout-secs`). Empty for file-only keys.
    pub env: &'static str,
    pub kind: Kind,
    pub bins: &'static [Bin],
    pub help: &'static str,
}

impl Key {
    pub fn flag(&self) -> Option<String> {
        let tail = self.env.strip_prefix("CREWSHIP_")?;
        Some(tail.to_ascii_lowercase().replace('_', "-"))
    }

    pub fn applies_to(&self, bin: Bin) -> bool {
        self.bins.contains(&bin)
    }
}

use Bin::*;

const ALL: &[Bin] = &Bin::ALL;
/// Binaries that serve the trigger path (the handler's settings).
const HANDLING: &[Bin] = &[LocalRunner, Server, HandlerLambda];
/// Binaries that execute runs.
const EXECUTING: &[Bin] = &[LocalRunner, Executor, ExecutorLambda];
/// Binaries on the DynamoDB store's settings.
const CLOUD: &[Bin] = &[
    Server,
    Executor,
    Provision,
    HandlerLambda,
    ExecutorLambda,
    WsLambda,
    CallbackLambda,
];
const QUEUEING: &[Bin] = &[Server, Executor, Provision, HandlerLambda, ExecutorLambda];
const WATCHING: &[Bin] = &[LocalRunner, Server, HandlerLambda, WsLambda];
const WEBSOCKET: &[Bin] = &[ExecutorLambda, WsLambda];
/// Binaries that deliver completion callbacks.
const DELIVERING: &[Bin] = &[LocalRunner, Executor, ExecutorLambda, CallbackLambda];
/// Binaries that end runs, and so announce callbacks, on the cloud's store, and the function
/// that drains the callbacks queue.
const CALLBACK_QUEUE: &[Bin] = &[
    Server,
    Executor,
    Provision,
    HandlerLambda,
    ExecutorLambda,
    CallbackLambda,
];
/// Binaries that accept connections themselves (the Lambda functions' are API Gateway's).
const LISTENING: &[Bin] = &[LocalRunner, Server];

const fn key(
    path: &'static str,
    env: &'static str,
    kind: Kind,
    bins: &'static [Bin],
    help: &'static str,
) -> Key {
    Key {
        path,
        env,
        kind,
        bins,
        help,
    }
}

use Kind::{Bool, FileOnly, Int, Secret, Text};

pub static KEYS: &[Key] = &[
    key(
        "server.listen",
        "CREWSHIP_LISTEN",
        Text,
        &[LocalRunner, Server],
        "Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).",
    ),
    key(
        "server.internal_token",
        "CREWSHIP_INTERNAL_TOKEN",
        Secret,
        HANDLING,
        "Token of the internal API (X-Internal-Token); local-runner generates one when unset.",
    ),
    key(
        "server.body_limit_bytes",
        "CREWSHIP_BODY_LIMIT_BYTES",
        Int,
        HANDLING,
        "Largest accepted webhook body in bytes.",
    ),
    key(
        "server.max_json_depth",
        "CREWSHIP_MAX_JSON_DEPTH",
        Int,
        HANDLING,
        "Deepest nesting of arrays and objects accepted in a JSON body (1 to 1024).",
    ),
    key(
        "server.timestamp_tolerance_secs",
        "CREWSHIP_TIMESTAMP_TOLERANCE_SECS",
        Int,
        HANDLING,
        "Largest accepted clock difference of signed timestamps, in seconds.",
    ),
    key(
        "server.dedup_window_secs",
        "CREWSHIP_DEDUP_WINDOW_SECS",
        Int,
        HANDLING,
        "How long delivery ids and signatures are remembered, in seconds.",
    ),
    key(
        "server.legacy_secret_sunset",
        "CREWSHIP_LEGACY_SECRET_SUNSET",
        Text,
        HANDLING,
        "When X-Webhook-Secret stops being accepted (RFC 3339).",
    ),
    key(
        "server.secret_rotation_grace_secs",
        "CREWSHIP_SECRET_ROTATION_GRACE_SECS",
        Int,
        HANDLING,
        "How long a rotated-out webhook secret keeps verifying, in seconds (0: not at all).",
    ),
    key(
        "server.api_tokens",
        "CREWSHIP_API_TOKENS",
        Secret,
        WATCHING,
        "Monitoring tokens as workspace=token pairs, comma-separated (beside [[tokens]]).",
    ),
    key(
        "server.container_runtime",
        "CREWSHIP_CONTAINER_RUNTIME",
        Text,
        &[Server, HandlerLambda],
        "What executes the runs, as the prerequisites report it.",
    ),
    key(
        "server.header_read_timeout_secs",
        "CREWSHIP_HEADER_READ_TIMEOUT_SECS",
        Int,
        LISTENING,
        "Seconds a client may take to send a request's line and headers.",
    ),
    key(
        "server.body_timeout_secs",
        "CREWSHIP_BODY_TIMEOUT_SECS",
        Int,
        LISTENING,
        "Seconds a client may take to send a whole request body (then 408).",
    ),
    key(
        "server.idle_timeout_secs",
        "CREWSHIP_IDLE_TIMEOUT_SECS",
        Int,
        LISTENING,
        "Seconds a kept-alive connection may wait for its next request.",
    ),
    key(
        "server.max_header_bytes",
        "CREWSHIP_MAX_HEADER_BYTES",
        Int,
        LISTENING,
        "Largest request line plus headers in bytes (larger is 431).",
    ),
    key(
        "server.max_connections",
        "CREWSHIP_MAX_CONNECTIONS",
        Int,
        LISTENING,
        "Open connections at most (kept below the open-files limit).",
    ),
    key(
        "server.callback_allow_private",
        "CREWSHIP_CALLBACK_ALLOW_PRIVATE",
        Bool,
        DELIVERING,
        "Let completion callbacks reach loopback, private and link-local addresses (development and tests only).",
    ),
    key(
        "server.callback_retry_secs",
        "CREWSHIP_CALLBACK_RETRY_SECS",
        Text,
        DELIVERING,
        "Waits in seconds between a failed callback attempt and the next, comma-separated; then it is given up.",
    ),
    key(
        "executor.run_timeout_secs",
        "CREWSHIP_RUN_TIMEOUT_SECS",
        Int,
        &[LocalRunner, Server, Executor, HandlerLambda, ExecutorLambda],
        "Deadline of every run in seconds; no agent may ask for more.",
    ),
    key(
        "executor.max_concurrent_runs",
        "CREWSHIP_MAX_CONCURRENT_RUNS",
        Int,
        EXECUTING,
        "Runs executing at once.",
    ),
    key(
        "executor.kill_grace_secs",
        "CREWSHIP_KILL_GRACE_SECS",
        Int,
        EXECUTING,
        "Seconds between SIGTERM and SIGKILL when an agent is stopped.",
    ),
    key(
        "executor.shutdown_grace_secs",
        "CREWSHIP_SHUTDOWN_GRACE_SECS",
        Int,
        &[LocalRunner, Executor],
        "Seconds running agents get to finish on shutdown.",
    ),
    key(
        "executor.lease_ms",
        "CREWSHIP_LEASE_MS",
        Int,
        EXECUTING,
        "How long a claim stays valid without a heartbeat, in milliseconds.",
    ),
    key(
        "executor.heartbeat_ms",
        "CREWSHIP_HEARTBEAT_MS",
        Int,
        EXECUTING,
        "Heartbeat interval in milliseconds.",
    ),
    key(
        "executor.poll_wait_secs",
        "CREWSHIP_POLL_WAIT_SECS",
        Int,
        EXECUTING,
        "Longest long-poll wait for a queue message, in seconds (SQS allows up to 20).",
    ),
    key(
        "executor.max_receives",
        "CREWSHIP_MAX_RECEIVES",
        Int,
        EXECUTING,
        "The run queue's maxReceiveCount: a run waiting on a cap gets a fresh message before it.",
    ),
    key(
        "executor.requeue_after_secs",
        "CREWSHIP_REQUEUE_AFTER_SECS",
        Int,
        EXECUTING,
        "Age in seconds at which the sweep gives a QUEUED run one fresh queue message.",
    ),
    key(
        "executor.work_dir",
        "CREWSHIP_WORK_DIR",
        Text,
        EXECUTING,
        "Where crews' working directories are created.",
    ),
    key(
        "executor.runtime",
        "CREWSHIP_RUNTIME",
        Text,
        EXECUTING,
        "Container runtime: process (no isolation), sandbox (bubblewrap), docker (a container per crew) or keeper (docs/runtimes.md).",
    ),
    key(
        "executor.keeper_url",
        "CREWSHIP_KEEPER_URL",
        Text,
        EXECUTING,
        "Keeper's base URL: https://…, or http:// to this machine only (runtime = keeper).",
    ),
    key(
        "executor.keeper_token",
        "CREWSHIP_KEEPER_TOKEN",
        Secret,
        EXECUTING,
        "Keeper's bearer token (runtime = keeper).",
    ),
    key(
        "executor.docker_host",
        "CREWSHIP_DOCKER_HOST",
        Text,
        EXECUTING,
        "Docker Engine socket, unix:///path (runtime = docker); unset: DOCKER_HOST, then unix:///var/run/docker.sock.",
    ),
    key(
        "executor.docker_image",
        "CREWSHIP_DOCKER_IMAGE",
        Text,
        EXECUTING,
        "Image of crews' containers when the agent names none (isolation.image).",
    ),
    key(
        "executor.docker_user",
        "CREWSHIP_DOCKER_USER",
        Text,
        EXECUTING,
        "uid:gid agents run as in their container; the crew directory is given to it.",
    ),
    key(
        "executor.docker_idle_stop_secs",
        "CREWSHIP_DOCKER_IDLE_STOP_SECS",
        Int,
        EXECUTING,
        "Seconds a crew's container may stay idle before it is stopped (0: never).",
    ),
    key(
        "executor.docker_memory_mb",
        "CREWSHIP_DOCKER_MEMORY_MB",
        Int,
        EXECUTING,
        "Memory limit of a crew's container in MiB when the agent sets none.",
    ),
    key(
        "executor.docker_millicpus",
        "CREWSHIP_DOCKER_MILLICPUS",
        Int,
        EXECUTING,
        "CPU limit of a crew's container in thousandths of a CPU when the agent sets none.",
    ),
    key(
        "executor.docker_pids_limit",
        "CREWSHIP_DOCKER_PIDS_LIMIT",
        Int,
        EXECUTING,
        "Most processes in a crew's container when the agent sets none.",
    ),
    key(
        "executor.docker_name_prefix",
        "CREWSHIP_DOCKER_NAME_PREFIX",
        Text,
        EXECUTING,
        "Prefix of the containers' names and label crewship.instance; one per runner on an engine.",
    ),
    key(
        "executor.keeper_ca_file",
        "CREWSHIP_KEEPER_CA_FILE",
        Text,
        EXECUTING,
        "CA certificates (PEM) that Keeper's https:// certificate is checked against (default: the system's).",
    ),
    key(
        "store.backend",
        "CREWSHIP_STORE",
        Text,
        // Every binary: memory and DynamoDB, and for local-runner memory and SQLite.
        ALL,
        "Where runs, agents and logs live: memory, dynamodb, or sqlite (local-runner).",
    ),
    key(
        "store.path",
        "CREWSHIP_DATA",
        Text,
        &[LocalRunner],
        "SQLite database file; setting it alone selects store.backend = sqlite.",
    ),
    key(
        "store.table_prefix",
        "CREWSHIP_TABLE_PREFIX",
        Text,
        CLOUD,
        "Tables <prefix>-runs, -dedup, -chats, -logs, -agents, -callbacks.",
    ),
    key(
        "store.runs_table",
        "CREWSHIP_RUNS_TABLE",
        Text,
        CLOUD,
        "Name of the runs table.",
    ),
    key(
        "store.dedup_table",
        "CREWSHIP_DEDUP_TABLE",
        Text,
        CLOUD,
        "Name of the dedup table.",
    ),
    key(
        "store.chats_table",
        "CREWSHIP_CHATS_TABLE",
        Text,
        CLOUD,
        "Name of the chats table.",
    ),
    key(
        "store.logs_table",
        "CREWSHIP_LOGS_TABLE",
        Text,
        CLOUD,
        "Name of the logs table.",
    ),
    key(
        "store.agents_table",
        "CREWSHIP_AGENTS_TABLE",
        Text,
        CLOUD,
        "Name of the agents table.",
    ),
    key(
        "store.callbacks_table",
        "CREWSHIP_CALLBACKS_TABLE",
        Text,
        CLOUD,
        "Name of the callback outbox table.",
    ),
    key(
        "store.payload_bucket",
        "CREWSHIP_PAYLOAD_BUCKET",
        Text,
        CLOUD,
        "S3 bucket for large payloads (required with dynamodb; provision: <prefix>-payloads).",
    ),
    key(
        "store.secrets_key",
        "CREWSHIP_SECRETS_KEY",
        Secret,
        ALL,
        "Base64 32-byte AES-256-GCM key sealing agent records at rest (sqlite: <path>.key if unset).",
    ),
    key(
        "store.allow_plaintext_secrets",
        "CREWSHIP_ALLOW_PLAINTEXT_SECRETS",
        Bool,
        CLOUD,
        "Store agent records unsealed when no key is set (experiments only).",
    ),
    key(
        "store.retention_days",
        "CREWSHIP_RETENTION_DAYS",
        Int,
        CLOUD,
        "Days after its creation when DynamoDB expires a run and its logs (TTL); match the bucket's lifecycle.",
    ),
    key(
        "queue.backend",
        "CREWSHIP_QUEUE",
        Text,
        QUEUEING,
        "The run queue: memory or sqs (default sqs when queue.url is set).",
    ),
    key(
        "queue.url",
        "CREWSHIP_QUEUE_URL",
        Text,
        QUEUEING,
        "The SQS queue URL.",
    ),
    key(
        "queue.callbacks_url",
        "CREWSHIP_CALLBACKS_QUEUE_URL",
        Text,
        CALLBACK_QUEUE,
        "SQS queue told of every new completion callback, for callback-lambda (unset: delivery polls the outbox).",
    ),
    key(
        "retention.max_age_secs",
        "CREWSHIP_RETENTION_MAX_AGE_SECS",
        Int,
        &[LocalRunner],
        "Finished runs and their logs are deleted this many seconds after they finished.",
    ),
    key(
        "retention.max_runs_per_agent",
        "CREWSHIP_RETENTION_MAX_RUNS_PER_AGENT",
        Int,
        &[LocalRunner],
        "Finished runs kept per agent at most (the oldest beyond it are deleted).",
    ),
    key(
        "retention.log_max_lines",
        "CREWSHIP_LOG_MAX_LINES",
        Int,
        &[LocalRunner],
        "Log lines kept per run; past it one system entry says how many were dropped.",
    ),
    key(
        "retention.log_max_bytes",
        "CREWSHIP_LOG_MAX_BYTES",
        Int,
        &[LocalRunner],
        "Bytes of log content kept per run; past it one system entry says how many were dropped.",
    ),
    key(
        "ws.connections_table",
        "CREWSHIP_CONNECTIONS_TABLE",
        Text,
        WEBSOCKET,
        "DynamoDB table of the WebSocket API's connections.",
    ),
    key(
        "ws.endpoint",
        "CREWSHIP_WS_ENDPOINT",
        Text,
        WEBSOCKET,
        "The WebSocket stage's management endpoint, https://{api}.execute-api.{region}.amazonaws.com/{stage}.",
    ),
    key(
        "log.format",
        "CREWSHIP_LOG_FORMAT",
        Text,
        ALL,
        "Log format: human or json.",
    ),
    key(
        "tokens",
        "",
        FileOnly,
        WATCHING,
        "[[tokens]] token, workspace_id: monitoring API tokens.",
    ),
    key(
        "agents",
        "",
        FileOnly,
        &[LocalRunner],
        "[[agents]]: the agents to serve (docs/agents.md).",
    ),
];

pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}
