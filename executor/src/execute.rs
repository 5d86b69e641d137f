//! Running one claimed run's agent: runtime, chat session, command, output, deadline.

use std::time::Duration;

use crewship_core::agent::{Adapter, Agent};
use crewship_core::log::Stream;
use crewship_core::message::{agent_message, generate_nonce};
use crewship_core::payload::Payload;
use crewship_core::run::{Run, RunStatus};
use crewship_core::runtime::{Execution, ExitStatus, OutputLine};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::Executor;
use crate::claude_stream::{self, ReportedError};
use crate::cli;
use crate::lifecycle::Ending;
use crate::output::RunOutput;

/// How long output is still read after the agent's process group was killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

/// How much of claude-code's own error text goes into `error_message`.
const REPORTED_ERROR_CHARS: usize = 500;

enum Stop {
    Exited(ExitStatus),
    Broken(String),
    Deadline,
    Cancelled,
    Shutdown,
}

/// What can stop an agent before it exits by itself.
pub struct Stops {
    /// Someone asked for the run to be cancelled.
    pub cancel: CancellationToken,
    /// The executor is shutting down and its grace period is over.
    pub shutdown: CancellationToken,
}

impl Executor {
    /// The agent's deadline: the executor's, or less if the agent asks for less.
    pub fn deadline_for(&self, agent: Option<&Agent>) -> Duration {
        let max = self.config.run_timeout;
        agent
            .and_then(|a| a.timeout_secs)
            .map_or(max, |s| Duration::from_secs(s).min(max))
    }

    pub(crate) async fn execute(&self, run: &Run, agent: Option<&Agent>, stops: Stops) -> Ending {
        let Some(agent) = agent else {
            return Ending::failed(format!(
                "agent could not be resolved: agent {} does not exist",
                run.agent_id
            ));
        };
        let runtime = match self.runtime.ensure(&run.crew_id).await {
            Ok(id) => id,
            Err(e) => return Ending::failed(e.to_string()),
        };
        let title = format!("Webhook: {}", run.event);
        if let Err(e) = self.ports.chats.ensure(&run.chat_id, &title).await {
            tracing::warn!(error = %e, chat_id = %run.chat_id, "chat session could not be ensured");
        }
        let message = agent_message(
            &run.event,
            &run.source,
            Payload::data_of(&run.payload),
            &generate_nonce(),
        );
        let spec = match cli::build(agent, &message) {
            Ok(spec) => spec,
            Err(e) => return Ending::failed(format!("agent command could not be built: {e}")),
        };
        let deadline = self.deadline_for(Some(agent));
        let mut output = RunOutput::new(
            run,
            &agent.name,
            self.ports.logs.clone(),
            self.ports.broadcaster.clone(),
            self.ports.clock.clone(),
        );
        let mut exec = match self.runtime.exec(&runtime, spec).await {
            Ok(exec) => exec,
            Err(e) => {
                let ending = Ending::failed(e.to_string());
                output.system("error", e.to_string()).await;
                return ending;
            }
        };

        let mut decoder = Decoder::for_adapter(agent.adapter);
        let stop = {
            let run_to_exit = async {
                pump(exec.as_mut(), &mut output, &mut decoder).await?;
                exec.wait().await.map_err(|e| e.to_string())
            };
            tokio::select! {
                r = tokio::time::timeout(deadline, run_to_exit) => match r {
                    Ok(Ok(status)) => Stop::Exited(status),
                    Ok(Err(e)) => Stop::Broken(e),
                    Err(_) => Stop::Deadline,
                },
                () = stops.cancel.cancelled() => Stop::Cancelled,
                () = stops.shutdown.cancelled() => Stop::Shutdown,
            }
        };
        if !matches!(stop, Stop::Exited(_)) {
            if let Err(e) = exec.kill(self.config.kill_grace).await {
                tracing::error!(error = %e, run_id = %run.id, "stopping the agent failed");
            }
            // What the agent wrote before it was stopped is still in the pipes: keep it. The
            // pipes close once the process group is gone; a process that left the group could
            // hold them open, hence the bound.
            let drain = pump(exec.as_mut(), &mut output, &mut decoder);
            if tokio::time::timeout(DRAIN_AFTER_KILL, drain).await.is_err() {
                tracing::warn!(run_id = %run.id, "output still open after the agent was stopped");
            }
        }
        output.flush().await;
        let mut ending = match stop {
            Stop::Exited(ExitStatus::Code(0)) => Ending {
                status: RunStatus::Completed,
                exit_code: Some(0),
                error: None,
            },
            Stop::Exited(ExitStatus::Code(code)) => Ending {
                status: RunStatus::Failed,
                exit_code: Some(code),
                error: Some(format!("agent exited with code {code}")),
            },
            Stop::Exited(ExitStatus::Signal(signal)) => {
                Ending::failed(format!("agent was killed by signal {signal}"))
            }
            Stop::Broken(e) => Ending::failed(e),
            Stop::Deadline => Ending {
                status: RunStatus::Timeout,
                exit_code: None,
                error: Some(format!("timed out after {}s", deadline.as_secs())),
            },
            Stop::Cancelled => Ending {
                status: RunStatus::Cancelled,
                exit_code: None,
                error: Some("cancelled while running".into()),
            },
            Stop::Shutdown => Ending::failed(
                "the executor shut down before the agent finished; the agent was stopped",
            ),
        };
        // claude-code can exit 0 after reporting a failed run on its `result` line.
        if let (Some(reported), RunStatus::Completed | RunStatus::Failed) =
            (decoder.reported_error(), ending.status)
        {
            let cause = format!("claude-code reported an error: {}", clip(reported));
            ending.status = RunStatus::Failed;
            ending.error = Some(match ending.error {
                Some(e) => format!("{e}; {cause}"),
                None => cause,
            });
        }
        if let Some(error) = &ending.error {
            output.system("error", error.clone()).await;
        }
        ending
    }
}

/// Reads output lines until both streams close, writing a batch whenever the agent has
/// nothing more ready (so lines go out promptly and a fast writer costs few store writes).
async fn pump(
    exec: &mut dyn Execution,
    output: &mut RunOutput,
    decoder: &mut Decoder,
) -> Result<(), String> {
    loop {
        let next = match exec.next_line().now_or_never() {
            Some(next) => next,
            None => {
                output.flush().await;
                exec.next_line().await
            }
        };
        match next {
            Some(Ok(line)) => decoder.write(line, output).await,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Ok(()),
        }
    }
}

/// Turns output lines into log entries, per CLI adapter.
enum Decoder {
    /// One entry per line, `event` `output`.
    Plain,
    /// claude-code's stream-json on stdout; remembers a failed `result` line.
    ClaudeStream { reported: Option<ReportedError> },
}

impl Decoder {
    fn for_adapter(adapter: Adapter) -> Self {
        match adapter {
            Adapter::Command => Self::Plain,
            Adapter::ClaudeCode => Self::ClaudeStream { reported: None },
        }
    }

    async fn write(&mut self, line: OutputLine, output: &mut RunOutput) {
        match (self, line.stream) {
            (Self::ClaudeStream { reported }, Stream::Stdout) => {
                let (entries, error) = claude_stream::parse_line(&line.content);
                for e in entries {
                    output
                        .push(Stream::Stdout, e.level, e.event, e.content)
                        .await;
                }
                if error.is_some() {
                    *reported = error;
                }
            }
            (_, stream) => {
                let level = if stream == Stream::Stderr {
                    "error"
                } else {
                    "info"
                };
                output.push(stream, level, "output", line.content).await;
            }
        }
    }

    fn reported_error(&self) -> Option<&str> {
        match self {
            Self::ClaudeStream {
                reported: Some(ReportedError(e)),
            } => Some(e),
            _ => None,
        }
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(REPORTED_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
