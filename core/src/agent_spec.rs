//! An agent as an operator writes it — a `[[agents]]` entry of the local runner's TOML file or
//! the JSON body of `PUT /api/v1/internal/agents/{agentId}` — and the one validation both go
//! through, so that a configuration file and the management API accept exactly the same agents.
//!
//! Ranges (also in `docs/agents.md`):
//! - ids: 1–128 bytes of `[A-Za-z0-9_-]`;
//! - `name` ≤ 256 bytes (default: the id); `model` ≤ 256 bytes;
//! - `command`: at most 256 arguments of at most 8 KiB; required for the `command` adapter;
//! - `env`: at most 100 variables, names `[A-Za-z_][A-Za-z0-9_]*` of at most 256 bytes, values
//!   at most 16 KiB;
//! - `webhook_secret`: 32–512 bytes;
//! - `timeout_secs`: 1 to the executor's run timeout;
//! - `events`: 1–100 patterns (`event_filter`); `callback_url`: an http(s) URL of at most
//!   2048 bytes, `callback_events` a non-empty subset of `run.completed`, `run.failed`,
//!   `callback_secret` 32–512 bytes (`callback`);
//! - `rate_limit_per_min`: 1–60 000; `max_queued_runs`: 1–100 000; `max_concurrent_runs`: 1–100.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use crate::agent::{
    Adapter, Agent, DEFAULT_MAX_CONCURRENT_RUNS, DEFAULT_MAX_QUEUED_RUNS,
    DEFAULT_RATE_LIMIT_PER_MIN,
};
use crate::callback::Callback;
use crate::event_filter::EventFilter;
use crate::ids::{AgentId, CrewId, WorkspaceId};
use crate::isolation::Isolation;
use crate::secret::Secret;
use crate::sources::{self, AuthStrength, Source};

pub const SECRET_LEN: RangeInclusive<usize> = 32..=512;
pub const RATE_LIMIT_PER_MIN: RangeInclusive<u32> = 1..=10_000_000;
pub const MAX_QUEUED_RUNS: RangeInclusive<u32> = 1..=10_000_000;
pub const MAX_CONCURRENT_RUNS: RangeInclusive<u32> = 1..=100;
pub const MAX_NAME_LEN: usize = 256;
pub const MAX_MODEL_LEN: usize = 256;
pub const MAX_COMMAND_ARGS: usize = 256;
pub const MAX_ARG_LEN: usize = 8 * 1024;
pub const MAX_ENV_VARS: usize = 100;
pub const MAX_ENV_NAME_LEN: usize = 256;
pub const MAX_ENV_VALUE_LEN: usize = 16 * 1024;

/// The operator's description of an agent. Secrets (`env` values, `webhook_secret`) are
/// [`Secret`]s, so a `Debug` of the spec prints none of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Required in a configuration file; in the API the path names the agent, and an `id` in
    /// the body must agree with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub crew_id: String,
    pub workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "default_adapter")]
    pub adapter: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Omitted: generated when the agent is created, kept when it is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    #[serde(default)]
    pub require_timestamp: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queued_runs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_runs: Option<u32>,
    #[serde(default)]
    pub isolation: Isolation,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub min_auth_strength: AuthStrength,
    /// Event patterns (`docs/event-filters.md`); omitted: every event runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Completion callbacks (`docs/callbacks.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Omitted: both `run.completed` and `run.failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_events: Option<Vec<String>>,
    /// Omitted: callbacks are signed with the agent's webhook secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<Secret>,
}

fn default_adapter() -> String {
    "command".into()
}

/// Which field is wrong and why; the message never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct InvalidAgent {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidAgent {
    InvalidAgent {
        field,
        message: message.into(),
    }
}

impl AgentSpec {
    /// Validates the spec into an agent named `id`. `max_timeout_secs` is the executor's run
    /// timeout. The agent's `webhook_secret` is the spec's (or `None`: the caller generates or
    /// keeps one); it has no previous secret.
    pub fn validate(self, id: &str, max_timeout_secs: u64) -> Result<Agent, InvalidAgent> {
        let id: AgentId = id.parse().map_err(|e| invalid("id", format!("{e}")))?;
        if let Some(body_id) = &self.id
            && body_id != id.as_str()
        {
            return Err(invalid(
                "id",
                format!("{body_id:?} does not match the agent id {id:?}"),
            ));
        }
        let crew_id: CrewId = self
            .crew_id
            .parse()
            .map_err(|e| invalid("crew_id", format!("{e}")))?;
        let workspace_id: WorkspaceId = self
            .workspace_id
            .parse()
            .map_err(|e| invalid("workspace_id", format!("{e}")))?;
        let adapter = Adapter::deserialize(self.adapter.as_str().into_deserializer()).map_err(
            |e: serde::de::value::Error| invalid("adapter", format!("unknown adapter: {e}")),
        )?;
        let name = self.name.unwrap_or_else(|| id.to_string());
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(invalid(
                "name",
                format!("must be 1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        check_command(adapter, &self.command)?;
        if let Some(model) = &self.model
            && (model.is_empty() || model.len() > MAX_MODEL_LEN)
        {
            return Err(invalid(
                "model",
                format!("must be 1 to {MAX_MODEL_LEN} bytes"),
            ));
        }
        check_env(&self.env)?;
        if let Some(secret) = &self.webhook_secret
            && !SECRET_LEN.contains(&secret.expose().len())
        {
            return Err(invalid(
                "webhook_secret",
                format!(
                    "must be {} to {} bytes (omit it to have one generated)",
                    SECRET_LEN.start(),
                    SECRET_LEN.end()
                ),
            ));
        }
        if let Some(t) = self.timeout_secs
            && (t == 0 || t > max_timeout_secs)
        {
            return Err(invalid(
                "timeout_secs",
                format!("must be from 1 to the executor's run timeout ({max_timeout_secs})"),
            ));
        }
        Ok(Agent {
            id,
            crew_id,
            workspace_id,
            name,
            adapter,
            command: self.command,
            model: self.model,
            env: self.env,
            webhook_secret: self.webhook_secret,
            previous_secret: None,
            require_timestamp: self.require_timestamp,
            timeout_secs: self.timeout_secs,
            rate_limit_per_min: in_range(
                "rate_limit_per_min",
                self.rate_limit_per_min,
                DEFAULT_RATE_LIMIT_PER_MIN,
                RATE_LIMIT_PER_MIN,
            )?,
            max_queued_runs: in_range(
                "max_queued_runs",
                self.max_queued_runs,
                DEFAULT_MAX_QUEUED_RUNS,
                MAX_QUEUED_RUNS,
            )?,
            max_concurrent_runs: in_range(
                "max_concurrent_runs",
                self.max_concurrent_runs,
                DEFAULT_MAX_CONCURRENT_RUNS,
                MAX_CONCURRENT_RUNS,
            )?,
            isolation: self.isolation.validate()?,
            sources: {
                sources::validate(&self.sources)?;
                // A previous secret comes from a rotation only, never from a spec.
                self.sources
                    .into_iter()
                    .map(|source| Source {
                        previous: None,
                        ..source
                    })
                    .collect()
            },
            min_auth_strength: self.min_auth_strength,
            events: EventFilter::from_spec(self.events)?,
            callback: Callback::from_spec(
                self.callback_url,
                self.callback_events,
                self.callback_secret,
            )?,
        })
    }
}

fn in_range(
    field: &'static str,
    value: Option<u32>,
    default: u32,
    range: RangeInclusive<u32>,
) -> Result<u32, InvalidAgent> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("must be from {} to {}", range.start(), range.end()),
        ))
    }
}

fn check_command(adapter: Adapter, command: &[String]) -> Result<(), InvalidAgent> {
    if adapter == Adapter::Command && command.first().is_none_or(String::is_empty) {
        return Err(invalid(
            "command",
            "the command adapter needs a command: a non-empty argv such as [\"sh\", \"-c\", \"cat\"]",
        ));
    }
    if command.len() > MAX_COMMAND_ARGS || command.iter().any(|a| a.len() > MAX_ARG_LEN) {
        return Err(invalid(
            "command",
            format!("at most {MAX_COMMAND_ARGS} arguments of at most {MAX_ARG_LEN} bytes"),
        ));
    }
    Ok(())
}

fn check_env(env: &BTreeMap<String, Secret>) -> Result<(), InvalidAgent> {
    if env.len() > MAX_ENV_VARS {
        return Err(invalid("env", format!("at most {MAX_ENV_VARS} variables")));
    }
    for (name, value) in env {
        let valid_name = name.len() <= MAX_ENV_NAME_LEN
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(invalid(
                "env",
                format!("{name:?} is not a variable name: use [A-Za-z_][A-Za-z0-9_]*"),
            ));
        }
        if value.expose().len() > MAX_ENV_VALUE_LEN {
            return Err(invalid(
                "env",
                format!("the value of {name} is over {MAX_ENV_VALUE_LEN} bytes"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> AgentSpec {
        let mut base = json!({"crew_id": "c", "workspace_id": "w", "command": ["true"]});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn a_minimal_spec_gets_the_defaults() {
        let agent = spec(json!({})).validate("a1", 600).unwrap();
        assert_eq!(agent.name, "a1");
        assert_eq!(agent.adapter, Adapter::Command);
        assert_eq!(agent.rate_limit_per_min, DEFAULT_RATE_LIMIT_PER_MIN);
        assert_eq!(agent.max_queued_runs, DEFAULT_MAX_QUEUED_RUNS);
        assert_eq!(agent.max_concurrent_runs, DEFAULT_MAX_CONCURRENT_RUNS);
        assert!(agent.webhook_secret.is_none());
    }

    #[test]
    fn each_unworkable_field_is_named() {
        let long = "x".repeat(129);
        let cases = [
            (json!({"adapter": "gpt"}), "adapter"),
            (json!({"command": []}), "command"),
            (json!({"command": [""]}), "command"),
            (json!({"crew_id": "a/b"}), "crew_id"),
            (json!({"workspace_id": long}), "workspace_id"),
            (json!({"id": "other"}), "id"),
            (json!({"webhook_secret": "short"}), "webhook_secret"),
            (json!({"timeout_secs": 601}), "timeout_secs"),
            (json!({"timeout_secs": 0}), "timeout_secs"),
            (json!({"rate_limit_per_min": 0}), "rate_limit_per_min"),
            (
                json!({"rate_limit_per_min": 10_000_001}),
                "rate_limit_per_min",
            ),
            (json!({"max_queued_runs": 10_000_001}), "max_queued_runs"),
            (json!({"max_concurrent_runs": 101}), "max_concurrent_runs"),
            (json!({"env": {"1BAD": "v"}}), "env"),
            (json!({"name": ""}), "name"),
        ];
        for (extra, field) in cases {
            let e = spec(extra.clone()).validate("a1", 600).unwrap_err();
            assert_eq!(e.field, field, "{extra}: {e}");
        }
        assert_eq!(
            spec(json!({})).validate("a b", 600).unwrap_err().field,
            "id"
        );
    }

    #[test]
    fn claude_code_needs_no_command_and_bounds_are_inclusive() {
        let agent = spec(json!({
            "adapter": "claude-code", "command": [], "timeout_secs": 600,
            "rate_limit_per_min": 10_000_000, "max_concurrent_runs": 100,
        }))
        .validate("a1", 600)
        .unwrap();
        assert_eq!(agent.adapter, Adapter::ClaudeCode);
        assert_eq!(agent.timeout_secs, Some(600));
    }

    #[test]
    fn errors_never_show_the_secret() {
        let secret = "s".repeat(600);
        let e = spec(json!({"webhook_secret": secret}))
            .validate("a1", 600)
            .unwrap_err();
        assert!(!e.to_string().contains("ssss"), "{e}");
        assert!(!format!("{:?}", spec(json!({"webhook_secret": secret}))).contains("ssss"));
    }
}
