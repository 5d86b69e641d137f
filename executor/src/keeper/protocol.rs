//! Keeper protocol v1 wire types (docs/keeper.md), shared by client and server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest request body the server accepts (stdin travels in the body).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest frame (one NDJSON line) either side accepts.
/// A 64 KiB line of control characters escapes to six bytes each in JSON: leave room.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// How much of an agent's result file the server reads: the run keeps
/// [`crewship_core::run::MAX_RESULT_BYTES`], and a few bytes more let the executor cut at a
/// character boundary. Escaped as JSON it still fits a frame.
pub const MAX_RESULT_READ: usize = crewship_core::run::MAX_RESULT_BYTES + 4;
pub const MAX_ARGV: usize = 256;
pub const MAX_ENV: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuntimeInfo {
    pub id: String,
    pub crew: String,
    pub state: String,
}

/// The optional body of `PUT /v1/runtimes/{workspace}.{crew}`: how confined the crew's agents
/// ask to be. An empty body asks for the defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnsureRequest {
    #[serde(default)]
    pub isolation: crewship_core::isolation::Isolation,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stdin {
    Text(String),
    Base64(String),
}

/// `env` values are secrets: this type has no `Debug` so it cannot be logged by accident.
#[derive(Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub stdin: Option<Stdin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KillRequest {
    #[serde(default = "default_grace_ms")]
    pub grace_ms: u64,
}

fn default_grace_ms() -> u64 {
    5_000
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Frame {
    Started {
        exec_id: String,
    },
    Line {
        stream: crewship_core::log::Stream,
        content: String,
    },
    Exit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// What the agent left in its result file (`CREWSHIP_RESULT_FILE`), at most
    /// [`MAX_RESULT_READ`] bytes; sent just before `Exit`, only when there is one.
    Result {
        content: String,
    },
    /// The server could not go on (the runtime failed mid-stream); ends the stream.
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
