//! The container runtime ("Keeper") port: a place per crew where agent processes run.

use std::time::Duration;

use async_trait::async_trait;

use crate::ids::CrewId;
use crate::log::Stream;
use crate::secret::Secret;
use crate::store::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container runtime for crew {crew} could not be ensured: {reason}")]
    Ensure { crew: CrewId, reason: String },
    #[error("agent command could not be started: {0}")]
    Spawn(String),
    #[error("agent output stream broke: {0}")]
    Stream(String),
    #[error("container runtime unavailable")]
    Unavailable(#[source] BoxError),
}

/// The handle `ensure` returns; opaque outside the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeId(pub String);

/// What to run. `env` values are secrets: adapters pass them to the process and nowhere else.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, Secret)>,
    pub stdin: Vec<u8>,
}

/// One line of output, without its newline. Lines longer than the adapter's limit arrive split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub content: String,
}

/// How an agent process ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    /// Ended by a signal it was not sent by us.
    Signal(i32),
}

/// A running agent process.
#[async_trait]
pub trait Execution: Send {
    /// The next line of output, stdout and stderr interleaved in arrival order; `None` once both
    /// streams are closed.
    async fn next_line(&mut self) -> Option<Result<OutputLine, RuntimeError>>;

    /// Waits for the process to exit. Call after `next_line` returned `None`.
    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError>;

    /// Stops the whole process tree: SIGTERM, then SIGKILL after `grace`. Idempotent.
    async fn kill(&mut self, grace: Duration) -> Result<(), RuntimeError>;
}

#[async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// Creates the crew's runtime or reuses the running one. Idempotent.
    async fn ensure(&self, crew: &CrewId) -> Result<RuntimeId, RuntimeError>;

    /// Starts a command in the runtime.
    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError>;

    /// A short description for logs and the start-up banner (`process`, `keeper http://…`).
    fn describe(&self) -> String;
}
