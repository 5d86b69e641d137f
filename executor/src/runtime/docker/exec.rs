//! One agent process in a crew's container: an engine exec with only the declared environment
//! and the message on stdin, its output demultiplexed into stdout and stderr lines.
//!
//! Why the stream ends: with `tty: false` the engine closes the attach stream once the process
//! and everything holding its stdout/stderr are gone — provided stdin is closed too, so the
//! input is shut down right after the message (a `cat`-like agent waits for EOF otherwise).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use crewship_core::log::Stream;
use crewship_core::runtime::{ExecSpec, Execution, ExitStatus, OutputLine, RuntimeError};
use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::{OnceCell, mpsc, watch};
use tokio::task::JoinHandle;

use super::activity::InUse;
use super::client::{CALL_TIMEOUT, call};
use super::container::WORK_MOUNT;
use super::error::DockerError;
use super::kill;
use crate::runtime::lines::{MAX_LINE_BYTES, forward};
use crate::runtime::result_file::ResultFile;

/// How long the output may take to end after the final SIGKILL before it is cut off (a process
/// that left the group, e.g. by `setsid`, could hold it open).
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

type Lines = mpsc::Receiver<Result<OutputLine, RuntimeError>>;

pub struct DockerExecution {
    docker: Docker,
    container: String,
    exec_id: String,
    pgid: Arc<OnceCell<Option<i32>>>,
    lines: Lines,
    /// `true` once the engine's output stream ended.
    ended: watch::Receiver<bool>,
    demux: JoinHandle<()>,
    _in_use: InUse,
    result: Option<ResultFile>,
}

impl DockerExecution {
    /// Where the agent may leave its answer; its variable is already in the exec's env.
    pub fn with_result(mut self, result: Option<ResultFile>) -> Self {
        self.result = result;
        self
    }
}

/// Starts `spec` in `container`.
pub async fn start(
    docker: &Docker,
    container: &str,
    spec: ExecSpec,
    in_use: InUse,
) -> Result<DockerExecution, DockerError> {
    if spec.argv.is_empty() {
        return Err(DockerError::EmptyCommand);
    }
    let env = spec
        .env
        .iter()
        .map(|(k, v)| format!("{k}={}", v.expose()))
        .collect();
    let options = CreateExecOptions {
        cmd: Some(spec.argv),
        env: Some(env),
        working_dir: Some(WORK_MOUNT.to_owned()),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        ..Default::default()
    };
    let exec = call("create exec", docker.create_exec(container, options)).await?;
    let attached = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: Some(MAX_LINE_BYTES),
    };
    let StartExecResults::Attached { output, mut input } =
        call("start exec", docker.start_exec(&exec.id, Some(attached))).await?
    else {
        return Err(DockerError::NotAttached);
    };

    let message = spec.stdin;
    tokio::spawn(async move {
        // An agent that exits without reading its input is not an error; one that never
        // reads it must not hold this task forever.
        let _ = tokio::time::timeout(CALL_TIMEOUT, input.write_all(&message)).await;
        let _ = input.shutdown().await;
    });

    let (tx, lines) = mpsc::channel(1024);
    let (out_w, out_r) = tokio::io::duplex(MAX_LINE_BYTES);
    let (err_w, err_r) = tokio::io::duplex(MAX_LINE_BYTES);
    for (reader, stream) in [(out_r, Stream::Stdout), (err_r, Stream::Stderr)] {
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Err(e) = forward(reader, stream, &tx).await {
                let _ = tx.send(Err(RuntimeError::stream(e))).await;
            }
        });
    }
    let (ended_tx, ended) = watch::channel(false);
    let demux = tokio::spawn(demultiplex(output, out_w, err_w, tx, ended_tx));

    let pgid = Arc::new(OnceCell::new());
    let (d, id, cell) = (docker.clone(), exec.id.clone(), pgid.clone());
    tokio::spawn(async move {
        cell.get_or_init(|| kill::container_pid(&d, &id)).await;
    });
    Ok(DockerExecution {
        docker: docker.clone(),
        container: container.to_owned(),
        exec_id: exec.id,
        pgid,
        lines,
        ended,
        demux,
        _in_use: in_use,
        result: None,
    })
}

/// Copies the engine's frames to the stream's line splitter until the stream ends.
async fn demultiplex(
    mut output: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
    mut out: DuplexStream,
    mut err: DuplexStream,
    tx: mpsc::Sender<Result<OutputLine, RuntimeError>>,
    ended: watch::Sender<bool>,
) {
    while let Some(frame) = output.next().await {
        let written = match frame {
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                out.write_all(&message).await
            }
            Ok(LogOutput::StdErr { message }) => err.write_all(&message).await,
            Ok(LogOutput::StdIn { .. }) => Ok(()),
            Err(source) => {
                let e = DockerError::Engine {
                    what: "exec output",
                    source,
                };
                let _ = tx.send(Err(RuntimeError::stream(e))).await;
                break;
            }
        };
        if written.is_err() {
            break;
        }
    }
    let _ = ended.send(true);
}

impl DockerExecution {
    async fn group(&self) -> Option<i32> {
        let (docker, id) = (&self.docker, &self.exec_id);
        *self
            .pgid
            .get_or_init(|| kill::container_pid(docker, id))
            .await
    }

    /// Waits until the output stream ended, at most `limit`; whether it did.
    async fn stream_ended(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.ended.wait_for(|e| *e))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[async_trait]
impl Execution for DockerExecution {
    async fn next_line(&mut self) -> Option<Result<OutputLine, RuntimeError>> {
        self.lines.recv().await
    }

    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        // The stream can end a moment before the engine records the exit.
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        let code = loop {
            let info = call("inspect exec", self.docker.inspect_exec(&self.exec_id))
                .await
                .map_err(RuntimeError::stream)?;
            if info.running != Some(true)
                && let Some(code) = info.exit_code
            {
                break code;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RuntimeError::stream(DockerError::Timeout {
                    what: "exec exit",
                    secs: CALL_TIMEOUT.as_secs(),
                }));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        };
        // Whatever the agent left running in its group would outlive the run: it goes with it.
        if let Some(pgid) = self.group().await {
            let (docker, container) = (self.docker.clone(), self.container.clone());
            tokio::spawn(async move {
                let _ = kill::signal_group(&docker, &container, pgid, "KILL").await;
            });
        }
        Ok(ExitStatus::Code(i32::try_from(code).unwrap_or(i32::MAX)))
    }

    async fn kill(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        if let Some(pgid) = self.group().await {
            let _ = kill::signal_group(&self.docker, &self.container, pgid, "TERM").await;
            self.stream_ended(grace).await;
            // Unconditional: the leader may be gone while a grandchild ignores SIGTERM.
            let _ = kill::signal_group(&self.docker, &self.container, pgid, "KILL").await;
        }
        if !self.stream_ended(DRAIN_AFTER_KILL).await {
            // The lines channel closes with the demultiplexer: `next_line` returns `None`.
            self.demux.abort();
        }
        Ok(())
    }

    async fn take_result(&mut self, limit: usize) -> Result<Option<Vec<u8>>, RuntimeError> {
        match self.result.take() {
            Some(file) => file.take(limit).await.map_err(RuntimeError::stream),
            None => Ok(None),
        }
    }
}
