//! CLI adapters (`docs/executor.md`, CLI adapters): how an agent's configuration and message become
//! a command line.

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn agent(adapter: Adapter, command: &[&str], model: Option<&str>) -> Agent {
        Agent {
            id: "a".parse().unwrap(),
            crew_id: "c".parse().unwrap(),
            workspace_id: "w".parse().unwrap(),
            name: "a".into(),
            adapter,
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            model: model.map(str::to_owned),
            env: BTreeMap::from([("TOKEN".to_owned(), Secret::new("t0k"))]),
            webhook_secret: None,
            previous_secret: None,
            require_timestamp: false,
            timeout_secs: None,
            rate_limit_per_min: 1,
            max_queued_runs: 1,
            max_concurrent_runs: 1,
            isolation: Default::default(),
            sources: Vec::new(),
            min_auth_strength: Default::default(),
            events: Default::default(),
            callback: None,
        }
    }

    fn env_names(spec: &ExecSpec) -> Vec<&str> {
        spec.env.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn command_gets_the_message_on_stdin_and_in_the_environment() {
        let spec = build(&agent(Adapter::Command, &["bot", "-v"], None), "hi").unwrap();
        assert_eq!(spec.argv, ["bot", "-v"]);
        assert_eq!(spec.stdin, b"hi");
        assert_eq!(env_names(&spec), ["TOKEN", "CREWSHIP_MESSAGE"]);
        let big = "x".repeat(INLINE_MESSAGE_LIMIT + 1);
        let spec = build(&agent(Adapter::Command, &["bot"], None), &big).unwrap();
        assert_eq!(env_names(&spec), ["TOKEN"], "too large for the environment");
        assert_eq!(spec.stdin.len(), big.len());
        assert!(build(&agent(Adapter::Command, &[], None), "hi").is_err());
    }

    #[test]
    fn claude_code_argv_with_model_and_message_after_the_separator() {
        let spec = build(&agent(Adapter::ClaudeCode, &[], Some("opus")), "-rf /").unwrap();
        assert_eq!(
            spec.argv,
            [
                "claude",
                "--print",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
                "opus",
                "--",
                "-rf /"
            ]
        );
        assert!(spec.stdin.is_empty());
        assert_eq!(env_names(&spec), ["TOKEN"]);
        let spec = build(&agent(Adapter::ClaudeCode, &["/opt/claude"], Some("")), "m").unwrap();
        assert_eq!(spec.argv[0], "/opt/claude");
        assert!(!spec.argv.iter().any(|a| a == "--model"));
    }

    #[test]
    fn claude_code_message_past_96_kib_goes_on_stdin() {
        let big = "y".repeat(INLINE_MESSAGE_LIMIT + 1);
        let spec = build(&agent(Adapter::ClaudeCode, &[], None), &big).unwrap();
        assert_eq!(spec.argv.last().map(String::as_str), Some("--verbose"));
        assert_eq!(spec.stdin, big.as_bytes());
        let fits = "y".repeat(INLINE_MESSAGE_LIMIT);
        let spec = build(&agent(Adapter::ClaudeCode, &[], None), &fits).unwrap();
        assert_eq!(spec.argv.last(), Some(&fits));
    }
}
