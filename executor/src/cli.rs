//! CLI adapters (SPEC §4): how an agent's configuration and message become a command line.

use crewship_core::agent::{Adapter, Agent};
use crewship_core::runtime::ExecSpec;
use crewship_core::secret::Secret;

/// Messages up to this size travel in argv and the environment; larger ones only on stdin,
/// because Linux refuses a single argument or variable over 128 KiB.
pub const INLINE_MESSAGE_LIMIT: usize = 96 * 1024;

pub fn build(agent: &Agent, message: &str) -> Result<ExecSpec, String> {
    let mut env: Vec<(String, Secret)> = agent
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let inline = message.len() <= INLINE_MESSAGE_LIMIT;
    match agent.adapter {
        Adapter::Command => {
            if agent.command.is_empty() {
                return Err("the agent's `command` is empty".into());
            }
            if inline {
                env.push(("CREWSHIP_MESSAGE".into(), Secret::new(message)));
            }
            Ok(ExecSpec {
                argv: agent.command.clone(),
                env,
                stdin: message.as_bytes().to_vec(),
            })
        }
        Adapter::ClaudeCode => {
            let program = agent.command.first().map_or("claude", String::as_str);
            let mut argv: Vec<String> = [
                program,
                "--print",
                "--output-format",
                "stream-json",
                "--verbose",
            ]
            .map(str::to_owned)
            .to_vec();
            if let Some(model) = agent.model.as_deref().filter(|m| !m.is_empty()) {
                argv.extend(["--model".to_owned(), model.to_owned()]);
            }
            let stdin = if inline {
                argv.extend(["--".to_owned(), message.to_owned()]);
                Vec::new()
            } else {
                message.as_bytes().to_vec()
            };
            Ok(ExecSpec { argv, env, stdin })
        }
    }
}
