//! Running one claimed run's agent: runtime, chat session, command, output, deadline.

use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::log::Stream;
use crewship_core::message::{agent_message, generate_nonce};
use crewship_core::payload::Payload;
use crewship_core::run::{Run, RunStatus};
use crewship_core::runtime::ExitStatus;
use tokio_util::sync::CancellationToken;

use crate::Executor;
use crate::cli;
use crate::lifecycle::Ending;
use crate::output::RunOutput;

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

        enum Stop {
            Exited(ExitStatus),
            Broken(String),
            Deadline,
            Cancelled,
            Shutdown,
        }
        let pump = async {
            while let Some(line) = exec.next_line().await {
                match line {
                    Ok(line) => {
                        let level = if line.stream == Stream::Stderr {
                            "error"
                        } else {
                            "info"
                        };
                        output
                            .line(line.stream, level, "output", line.content)
                            .await;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            exec.wait().await.map_err(|e| e.to_string())
        };
        let stop = tokio::select! {
            r = tokio::time::timeout(deadline, pump) => match r {
                Ok(Ok(status)) => Stop::Exited(status),
                Ok(Err(e)) => Stop::Broken(e),
                Err(_) => Stop::Deadline,
            },
            () = stops.cancel.cancelled() => Stop::Cancelled,
            () = stops.shutdown.cancelled() => Stop::Shutdown,
        };
        if !matches!(stop, Stop::Exited(_))
            && let Err(e) = exec.kill(self.config.kill_grace).await
        {
            tracing::error!(error = %e, run_id = %run.id, "stopping the agent failed");
        }
        let ending = match stop {
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
        if let Some(error) = &ending.error {
            output.system("error", error.clone()).await;
        }
        ending
    }
}
