//! The local process runtime: a working directory per crew and the agent as a child process in
//! a process group of its own, so that stopping it reaches its children and grandchildren, and
//! a guard that kills the group if the runner dies (`child.rs`, `guard.rs`).
//!
//! There is no isolation (docs/runtimes.md): agents run as the runner's user with its file
//! system and network. Their environment is built (`agent_env.rs`), so a plain `env` shows
//! nothing of the runner's, and the runner is made non-dumpable, so its `/proc/<pid>/environ`
//! is closed to them — unless they run as root.

use std::path::PathBuf;

use async_trait::async_trait;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, Placement, RuntimeError, RuntimeId,
};

use super::agent_env;
use super::child::{self, ChildError, Launch, Polite};
use super::result_file::ResultFile;

/// Why the process runtime could not make a crew's directory; the runtime error's source.
#[derive(Debug, thiserror::Error)]
#[error("creating {}", .dir.display())]
pub(super) struct CreateDir {
    pub dir: PathBuf,
    #[source]
    pub source: std::io::Error,
}

pub struct ProcessRuntime {
    root: PathBuf,
}

impl ProcessRuntime {
    /// Crews get directories under `root`, created on demand. Hides this process's environment
    /// from its agents where the kernel can ([`agent_env::hide_runner_environment`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        agent_env::hide_runner_environment();
        Self { root: root.into() }
    }
}

/// Creates `root/<workspace>/<crew>`. The ids' alphabet ([A-Za-z0-9_-]) cannot climb out of the
/// root; one directory per workspace keeps two workspaces' crews of the same name apart.
pub(super) async fn crew_dir(
    root: &std::path::Path,
    place: &Placement,
) -> Result<PathBuf, RuntimeError> {
    let dir = root
        .join(place.workspace.as_str())
        .join(place.crew.as_str());
    tokio::fs::create_dir_all(&dir).await.map_err(|source| {
        let dir = dir.clone();
        RuntimeError::ensure(&place.crew, CreateDir { dir, source })
    })?;
    Ok(dir)
}

#[async_trait]
impl ContainerRuntime for ProcessRuntime {
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError> {
        let dir = crew_dir(&self.root, place).await?;
        Ok(RuntimeId(dir.to_string_lossy().into_owned()))
    }

    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| RuntimeError::spawn(ChildError::EmptyCommand))?;
        let mut env = agent_env::build(&runtime.0, &spec.env);
        let dir = PathBuf::from(&runtime.0);
        let (result, var) = ResultFile::in_crew_dir(&dir, &runtime.0);
        env.push(var);
        child::spawn(Launch {
            name: program.clone(),
            program: super::program::resolve(program, agent_env::path_of(&env)),
            args: args.iter().map(Into::into).collect(),
            cwd: dir,
            env,
            stdin: spec.stdin,
            polite: Polite::Group,
            result: Some(result),
        })
    }

    fn describe(&self) -> String {
        format!(
            "process, no isolation (working directories under {})",
            self.root.display()
        )
    }
}
