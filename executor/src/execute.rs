//! The agent's part of a claimed run (`docs/executor.md`, One run, step by step) as named steps:
//! resolve the agent, ensure the crew's runtime, open the chat, start the command, stream its
//! output under the deadline, and say how it ended.

use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::message::{agent_message, generate_nonce};
use crewship_core::payload::Payload;
use crewship_core::run::{MAX_RESULT_BYTES, Run, RunStatus, Usage};
use crewship_core::runtime::{Execution, ExitStatus, Placement, RuntimeId};
use crewship_core::secret::Secret;
use tokio_util::sync::CancellationToken;

use crate::Executor;
use crate::cli;
use crate::decode::{Decoder, clip, pump};
use crate::keeper::protocol::MAX_RESULT_READ;
use crate::lifecycle::Ending;
use crate::output::RunOutput;

/// How long output is still read after the agent's process group was killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

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

    /// The agent's part of a claimed run, `docs/executor.md`, One run, step by step: every step
    /// either hands on or ends the run with the [`Ending`] that says why.
    pub(crate) async fn execute(&self, run: &Run, agent: Option<&Agent>, stops: Stops) -> Ending {
        match self.try_execute(run, agent, stops).await {
            Ok(ending) | Err(ending) => ending,
        }
    }

    async fn try_execute(
        &self,
        run: &Run,
        agent: Option<&Agent>,
        stops: Stops,
    ) -> Result<Ending, Ending> {
        let agent = resolve(run, agent)?;
        let runtime = self.ensure_runtime(run, agent).await?;
        self.open_chat(run).await;
        let mut started = self.start(run, agent, &runtime).await?;
        let deadline = self.deadline_for(Some(agent));
        let stop = self.stream(run, &mut started, deadline, stops).await;
        Ok(started.end(stop, deadline).await)
    }

    /// Step 2: the crew's container runtime, created or reused.
    async fn ensure_runtime(&self, run: &Run, agent: &Agent) -> Result<RuntimeId, Ending> {
        let place = Placement {
            workspace: run.workspace_id.clone(),
            crew: run.crew_id.clone(),
            isolation: agent.isolation.clone(),
        };
        self.runtime
            .ensure(&place)
            .await
            .map_err(|e| Ending::failed(e.to_string()))
    }

    /// Step 3: the agent's chat session. A run does not fail for want of one.
    async fn open_chat(&self, run: &Run) {
        let title = format!("Webhook: {}", run.event);
        if let Err(e) = self.ports.chats.ensure(&run.chat_id, &title).await {
            tracing::warn!(error = %e, chat_id = %run.chat_id, "chat session could not be ensured");
        }
    }

    /// Step 4: the agent's command with the message of `docs/webhooks.md`, The payload, started in
    /// the runtime.
    async fn start(
        &self,
        run: &Run,
        agent: &Agent,
        runtime: &RuntimeId,
    ) -> Result<Started, Ending> {
        let message = agent_message(
            &run.event,
            &run.source,
            Payload::data_for(&run.payload, run.auth_scheme),
            &generate_nonce(),
        );
        let mut spec = cli::build(agent, &message)
            .map_err(|e| Ending::failed(format!("agent command could not be built: {e}")))?;
        // How the trigger authenticated, so the agent can narrow what it does for a weakly
        // authenticated one (docs/security.md).
        spec.env.extend([
            (
                "CREWSHIP_AUTH_SCHEME".to_owned(),
                Secret::new(run.auth_scheme.as_str()),
            ),
            (
                "CREWSHIP_AUTH_STRENGTH".to_owned(),
                Secret::new(run.auth_strength.as_str()),
            ),
        ]);
        let mut output = RunOutput::new(
            run,
            &agent.name,
            self.ports.logs.clone(),
            self.ports.broadcaster.clone(),
            self.ports.clock.clone(),
            self.config.log_cap,
        );
        match self.runtime.exec(runtime, spec).await {
            Ok(exec) => Ok(Started {
                exec,
                output,
                decoder: Decoder::for_adapter(agent.adapter),
            }),
            Err(e) => {
                let cause = e.to_string();
                output.system("error", cause.clone()).await;
                Err(Ending::failed(cause))
            }
        }
    }

    /// Step 5: every output line to the log writer and the broadcaster, until the agent exits,
    /// the deadline passes, or a stop fires; a stopped agent is killed and its last output kept.
    async fn stream(
        &self,
        run: &Run,
        started: &mut Started,
        deadline: Duration,
        stops: Stops,
    ) -> Stop {
        let Started {
            exec,
            output,
            decoder,
        } = started;
        let stop = {
            let run_to_exit = async {
                pump(exec.as_mut(), output, decoder).await?;
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
            let drain = pump(exec.as_mut(), output, decoder);
            if tokio::time::timeout(DRAIN_AFTER_KILL, drain).await.is_err() {
                tracing::warn!(run_id = %run.id, "output still open after the agent was stopped");
            }
        }
        output.flush().await;
        stop
    }
}

/// Step 1: the agent's full configuration. It was read before the claim; one that is gone by
/// now fails the run with the cause.
fn resolve<'a>(run: &Run, agent: Option<&'a Agent>) -> Result<&'a Agent, Ending> {
    agent.ok_or_else(|| {
        Ending::failed(format!(
            "agent could not be resolved: agent {} does not exist",
            run.agent_id
        ))
    })
}

/// A started agent: its process, where its output goes, and how that output is read.
struct Started {
    exec: Box<dyn Execution>,
    output: RunOutput,
    decoder: Decoder,
}

impl Started {
    /// Step 6: how the run ended, written to the run's log when it is an error.
    async fn end(mut self, stop: Stop, deadline: Duration) -> Ending {
        let mut ending = match stop {
            Stop::Exited(ExitStatus::Code(0)) => Ending::new(RunStatus::Completed, Some(0), None),
            Stop::Exited(ExitStatus::Code(code)) => Ending::new(
                RunStatus::Failed,
                Some(code),
                Some(format!("agent exited with code {code}")),
            ),
            Stop::Exited(ExitStatus::Signal(signal)) => {
                Ending::failed(format!("agent was killed by signal {signal}"))
            }
            Stop::Broken(e) => Ending::failed(e),
            Stop::Deadline => Ending::new(
                RunStatus::Timeout,
                None,
                Some(format!("timed out after {}s", deadline.as_secs())),
            ),
            Stop::Cancelled => Ending::new(
                RunStatus::Cancelled,
                None,
                Some("cancelled while running".into()),
            ),
            Stop::Shutdown => Ending::failed(
                "the executor shut down before the agent finished; the agent was stopped",
            ),
        };
        let reported = self.decoder.reported().cloned();
        // claude-code can exit 0 after reporting a failed run on its `result` line.
        if let (Some(reported), RunStatus::Completed | RunStatus::Failed) =
            (reported.as_ref().filter(|r| r.is_error), ending.status)
        {
            let cause = format!("claude-code reported an error: {}", clip(&reported.text));
            ending.status = RunStatus::Failed;
            ending.error = Some(match ending.error {
                Some(e) => format!("{e}; {cause}"),
                None => cause,
            });
        }
        // The agent's answer: its result file if it wrote one, else claude-code's `result`.
        let file = match self.exec.take_result(MAX_RESULT_READ).await {
            Ok(file) => file,
            Err(e) => {
                let why = format!("the agent's result file was not read: {e}");
                self.output.system("warn", why).await;
                None
            }
        };
        ending.result = file
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .or_else(|| reported.as_ref().map(|r| r.text.clone()))
            .map(|text| cut(text, MAX_RESULT_BYTES));
        ending.usage = reported.map(|r| r.usage).filter(|u| *u != Usage::default());
        self.output.close().await;
        if let Some(error) = &ending.error {
            self.output.system("error", error.clone()).await;
        }
        ending
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let end = (0..=max)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn results_are_cut_at_a_character_boundary() {
        assert_eq!(cut("abc".into(), 5), "abc");
        assert_eq!(cut("aé".into(), 2), "a");
        assert_eq!(cut("aé".into(), 3), "aé");
    }
}
