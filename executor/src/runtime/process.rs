//! The local process runtime: a working directory per crew and the agent as a child process in
//! a process group of its own, so that stopping it reaches its children and grandchildren.
//! There is no isolation: agents run as the runner's user with its file system.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::log::Stream;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, ExitStatus, OutputLine, Placement, RuntimeError,
    RuntimeId,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use super::lines::forward;

/// Why the process runtime could not do what it was asked; the runtime error's source.
#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error("creating {}", .dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("empty command")]
    EmptyCommand,
    #[error("{program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no pid")]
    NoPid,
    #[error("pid")]
    PidOutOfRange,
    #[error("the process waiter vanished")]
    WaiterVanished,
}

/// Variables an agent inherits from the runner; everything else comes from its configuration.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"];

pub struct ProcessRuntime {
    root: PathBuf,
}

impl ProcessRuntime {
    /// Crews get directories under `root`, created on demand.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

#[async_trait]
impl ContainerRuntime for ProcessRuntime {
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError> {
        // The ids' alphabet ([A-Za-z0-9_-]) cannot climb out of the root; one directory per
        // workspace keeps two workspaces' crews of the same name apart.
        let dir = self
            .root
            .join(place.workspace.as_str())
            .join(place.crew.as_str());
        tokio::fs::create_dir_all(&dir).await.map_err(|source| {
            let dir = dir.clone();
            RuntimeError::ensure(&place.crew, ProcessError::CreateDir { dir, source })
        })?;
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
            .ok_or_else(|| RuntimeError::spawn(ProcessError::EmptyCommand))?;
        // The PATH the child gets: the agent's own, else the inherited one.
        let child_path = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| std::ffi::OsString::from(v.expose()))
            .or_else(|| std::env::var_os("PATH"));
        let mut command = Command::new(super::program::resolve(program, child_path.as_deref()));
        command
            .args(args)
            .current_dir(&runtime.0)
            .env_clear()
            .envs(
                INHERITED_ENV
                    .iter()
                    .filter_map(|k| Some((*k, std::env::var_os(k)?))),
            )
            .envs(spec.env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| {
            let program = program.clone();
            RuntimeError::spawn(ProcessError::Spawn { program, source })
        })?;
        let pid = child
            .id()
            .ok_or_else(|| RuntimeError::spawn(ProcessError::NoPid))?;
        let pid =
            i32::try_from(pid).map_err(|_| RuntimeError::spawn(ProcessError::PidOutOfRange))?;
        let pgid = Pid::from_raw(pid);

        let (tx, rx) = mpsc::channel(1024);
        let mut stdin = child.stdin.take().expect("piped");
        let input = spec.stdin;
        tokio::spawn(async move {
            // An agent that exits without reading its input is not an error.
            let _ = stdin.write_all(&input).await;
        });
        for (pipe, stream) in [
            (child.stdout.take().map(Pipe::Out), Stream::Stdout),
            (child.stderr.take().map(Pipe::Err), Stream::Stderr),
        ] {
            let tx = tx.clone();
            let Some(pipe) = pipe else { continue };
            tokio::spawn(async move {
                let result = match pipe {
                    Pipe::Out(p) => forward(p, stream, &tx).await,
                    Pipe::Err(p) => forward(p, stream, &tx).await,
                };
                if let Err(e) = result {
                    let _ = tx.send(Err(RuntimeError::stream(e))).await;
                }
            });
        }
        drop(tx);

        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            // Whatever the agent left running in its group would hold the pipes open and
            // outlive the run: it goes with the agent.
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = exit_tx.send(Some(status.map_err(Arc::new)));
        });
        Ok(Box::new(ProcessExecution {
            pgid,
            lines: rx,
            exit: exit_rx,
        }))
    }

    fn describe(&self) -> String {
        format!(
            "process (working directories under {})",
            self.root.display()
        )
    }
}

enum Pipe {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

/// `Arc`: the report is read through a `watch` channel, which clones it.
type ExitReport = Option<Result<std::process::ExitStatus, Arc<std::io::Error>>>;

struct ProcessExecution {
    pgid: Pid,
    lines: mpsc::Receiver<Result<OutputLine, RuntimeError>>,
    exit: watch::Receiver<ExitReport>,
}

impl ProcessExecution {
    async fn exited(&mut self) -> Result<std::process::ExitStatus, RuntimeError> {
        let report = self
            .exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::stream(ProcessError::WaiterVanished))?;
        report
            .clone()
            .expect("waited for Some")
            .map_err(RuntimeError::stream)
    }
}

#[async_trait]
impl Execution for ProcessExecution {
    async fn next_line(&mut self) -> Option<Result<OutputLine, RuntimeError>> {
        self.lines.recv().await
    }

    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.exited().await?;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            (None, None) => ExitStatus::Code(-1),
        })
    }

    async fn kill(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        let _ = killpg(self.pgid, Signal::SIGTERM);
        let _ = tokio::time::timeout(grace, self.exited()).await;
        // Unconditional: the leader may be gone while a grandchild ignores SIGTERM.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        Ok(())
    }
}
