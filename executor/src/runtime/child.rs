//! One agent as a local child process, for the runtimes that start it on this machine (process
//! and sandbox): its own process group, stdin written, stdout and stderr read as lines, and a
//! [`Guard`] that kills the group should the runner die first.
//!
//! Spawning has no `pre_exec` hook on purpose: one would force `fork` instead of
//! `posix_spawn` (`program.rs` says why that matters), so the parent-death duty is the guard's.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::log::Stream;
use crewship_core::runtime::{Execution, ExitStatus, OutputLine, RuntimeError};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use super::guard::Guard;
use super::lines::forward;
use super::result_file::ResultFile;

/// Why a local child could not be started or followed; the runtime error's source.
#[derive(Debug, thiserror::Error)]
pub(super) enum ChildError {
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
    #[error("the agent's guard could not be started")]
    Guard(#[source] std::io::Error),
    #[error("the process waiter vanished")]
    WaiterVanished,
}

/// How `kill`'s first, polite signal reaches the agent.
#[derive(Debug, Clone, Copy)]
pub(super) enum Polite {
    /// SIGTERM to the whole process group (the process runtime).
    Group,
    /// SIGTERM to every process below the group leader's first `skip` generations: bubblewrap
    /// and its pid-1 reaper would turn a SIGTERM into an immediate SIGKILL of the sandbox.
    Below { skip: usize },
}

/// What to start. `name` is the agent's program as configured, for error messages.
pub(super) struct Launch {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Vec<u8>,
    pub polite: Polite,
    /// Where the agent may leave its answer; its variable is already in `env`.
    pub result: Option<ResultFile>,
}

pub(super) fn spawn(launch: Launch) -> Result<Box<dyn Execution>, RuntimeError> {
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| {
        RuntimeError::spawn(ChildError::Spawn {
            program: launch.name.clone(),
            source,
        })
    })?;
    let pid = child
        .id()
        .ok_or_else(|| RuntimeError::spawn(ChildError::NoPid))?;
    let pid = i32::try_from(pid).map_err(|_| RuntimeError::spawn(ChildError::PidOutOfRange))?;
    let pgid = Pid::from_raw(pid);
    let guard = match Guard::watch(pgid) {
        Ok(guard) => guard,
        Err(e) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            return Err(RuntimeError::spawn(ChildError::Guard(e)));
        }
    };

    let (tx, rx) = mpsc::channel(1024);
    let mut stdin = child.stdin.take().expect("piped");
    let input = launch.stdin;
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
        // outlive the run: it goes with the agent. Then the guard has nothing left to do.
        let _ = killpg(pgid, Signal::SIGKILL);
        guard.release();
        let _ = exit_tx.send(Some(status.map_err(Arc::new)));
    });
    Ok(Box::new(ChildExecution {
        pgid,
        polite: launch.polite,
        lines: rx,
        exit: exit_rx,
        result: launch.result,
    }))
}

enum Pipe {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

/// `Arc`: the report is read through a `watch` channel, which clones it.
type ExitReport = Option<Result<std::process::ExitStatus, Arc<std::io::Error>>>;

struct ChildExecution {
    pgid: Pid,
    polite: Polite,
    lines: mpsc::Receiver<Result<OutputLine, RuntimeError>>,
    exit: watch::Receiver<ExitReport>,
    result: Option<ResultFile>,
}

impl ChildExecution {
    async fn exited(&mut self) -> Result<std::process::ExitStatus, RuntimeError> {
        let report = self
            .exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::stream(ChildError::WaiterVanished))?;
        report
            .clone()
            .expect("waited for Some")
            .map_err(RuntimeError::stream)
    }
}

#[async_trait]
impl Execution for ChildExecution {
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
        match self.polite {
            Polite::Group => {
                let _ = killpg(self.pgid, Signal::SIGTERM);
            }
            Polite::Below { skip } => super::descendants::signal_below(self.pgid, skip),
        }
        let _ = tokio::time::timeout(grace, self.exited()).await;
        // Unconditional: the leader may be gone while a grandchild ignores SIGTERM.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        Ok(())
    }

    async fn take_result(&mut self, limit: usize) -> Result<Option<Vec<u8>>, RuntimeError> {
        match self.result.take() {
            Some(file) => file.take(limit).await.map_err(RuntimeError::stream),
            None => Ok(None),
        }
    }
}
