//! The container runtime ("Keeper") port: a place per crew where agent processes run.

use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{CrewId, WorkspaceId};
use crate::isolation::Isolation;
use crate::log::Stream;
use crate::secret::Secret;
use crate::store::BoxError;

/// Why a runtime call failed. Each variant keeps its cause as a typed source; adapters never
/// flatten it into a string. The message names every cause too (`agent command could not be
/// started: claude: No such file or directory (os error 2)`): it becomes a run's
/// `error_message` and crosses Keeper's wire, where the sender needs the whole reason.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container runtime for crew {crew} could not be ensured: {}", Causes(.source))]
    Ensure {
        crew: CrewId,
        #[source]
        source: BoxError,
    },
    #[error("agent command could not be started: {}", Causes(.0))]
    Spawn(#[source] BoxError),
    #[error("agent output stream broke: {}", Causes(.0))]
    Stream(#[source] BoxError),
    #[error("container runtime unavailable: {}", Causes(.0))]
    Unavailable(#[source] BoxError),
}

/// A cause and its own causes, joined by `: `.
struct Causes<'a>(&'a BoxError);

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl RuntimeError {
    pub fn ensure(crew: &CrewId, source: impl Into<BoxError>) -> Self {
        Self::Ensure {
            crew: crew.clone(),
            source: source.into(),
        }
    }

    pub fn spawn(source: impl Into<BoxError>) -> Self {
        Self::Spawn(source.into())
    }

    pub fn stream(source: impl Into<BoxError>) -> Self {
        Self::Stream(source.into())
    }

    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }
}

/// Which crew's place to ensure, and how confined its agents ask to be. A place is keyed by
/// workspace *and* crew: two workspaces that both name a crew `ops` never share a directory, a
/// container or a Keeper runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub workspace: WorkspaceId,
    pub crew: CrewId,
    pub isolation: Isolation,
}

impl Placement {
    /// The crew's place with the default isolation.
    pub fn new(workspace: WorkspaceId, crew: CrewId) -> Self {
        Self {
            workspace,
            crew,
            isolation: Isolation::default(),
        }
    }

    /// `<workspace>.<crew>`: unique, since neither id may contain a dot, and safe in a path, a
    /// container name or a URL segment.
    pub fn key(&self) -> String {
        format!("{}.{}", self.workspace, self.crew)
    }
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

    /// What the agent wrote to the file [`RESULT_FILE_VAR`] names, its first `limit` bytes at
    /// most; `None` when it wrote none. Called once, after the process ended; the file is
    /// removed. A runtime that offers no result file answers `None`.
    async fn take_result(&mut self, limit: usize) -> Result<Option<Vec<u8>>, RuntimeError> {
        let _ = limit;
        Ok(None)
    }
}

/// The variable that names the file an agent may write its answer to (the run's `result`).
pub const RESULT_FILE_VAR: &str = "CREWSHIP_RESULT_FILE";

#[async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// Creates the crew's runtime or reuses the running one. Idempotent.
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError>;

    /// Starts a command in the runtime.
    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError>;

    /// A short description for logs and the start-up banner (`process`, `keeper http://…`).
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("creating /srv/crews/c")]
    struct CreateDir(#[source] std::io::Error);

    #[test]
    fn the_message_names_every_cause_in_order() {
        let io = std::io::Error::new(std::io::ErrorKind::NotADirectory, "Not a directory");
        let e = RuntimeError::ensure(&"c".parse().unwrap(), CreateDir(io));
        assert_eq!(
            e.to_string(),
            "container runtime for crew c could not be ensured: creating /srv/crews/c: Not a \
             directory"
        );
        assert!(std::error::Error::source(&e).is_some_and(|s| s.is::<CreateDir>()));
    }
}
