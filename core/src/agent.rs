//! Agents as the registry ("orchestrator") knows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::callback::Callback;
use crate::event_filter::EventFilter;
use crate::ids::{AgentId, CrewId, WorkspaceId};
use crate::isolation::Isolation;
use crate::secret::Secret;
use crate::sources::{AuthStrength, Source};

/// How the agent's command line is built (`docs/executor.md`, CLI adapters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adapter {
    /// `command` from the configuration; the message on stdin and in `CREWSHIP_MESSAGE`.
    Command,
    /// `claude --print --output-format stream-json --verbose [--model M] -- <message>`.
    ClaudeCode,
}

/// The secret that verified until a rotation, and until when it still does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub secret: Secret,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

pub const DEFAULT_RATE_LIMIT_PER_MIN: u32 = 600;
pub const DEFAULT_MAX_QUEUED_RUNS: u32 = 1000;
pub const DEFAULT_MAX_CONCURRENT_RUNS: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub crew_id: CrewId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub adapter: Adapter,
    /// argv for the `command` adapter; for `claude-code` an optional replacement for `claude`.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Credentials for the agent, passed only as environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    #[serde(default)]
    pub previous_secret: Option<PreviousSecret>,
    #[serde(default)]
    pub require_timestamp: bool,
    /// The agent's own deadline; never more than the executor's.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    pub rate_limit_per_min: u32,
    pub max_queued_runs: u32,
    pub max_concurrent_runs: u32,
    /// The confinement the agent asks of its runtime (`docs/runtimes.md`).
    #[serde(default)]
    pub isolation: Isolation,
    /// More senders the agent takes requests from, each with its own secret (`docs/senders/`).
    #[serde(default)]
    pub sources: Vec<Source>,
    /// The weakest authentication a request may use (`docs/security.md`).
    #[serde(default)]
    pub min_auth_strength: AuthStrength,
    /// Which deliveries run; the others become `FILTERED` runs (`docs/event-filters.md`).
    #[serde(default)]
    pub events: EventFilter,
    /// Where finished runs are reported (`docs/callbacks.md`).
    #[serde(default)]
    pub callback: Option<Callback>,
}

impl Agent {
    /// The secrets that verify at `now`: the current one, and the previous one during its grace
    /// period. Empty secrets never verify, so they are not offered.
    pub fn verifying_secrets(&self, now: OffsetDateTime) -> impl Iterator<Item = &Secret> {
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|p| now <= p.valid_until)
            .map(|p| &p.secret);
        self.webhook_secret
            .iter()
            .chain(previous)
            .filter(|s| !s.is_empty())
    }

    /// `webhook-<agentId>`: the one chat session all of this agent's webhook runs share.
    pub fn chat_id(&self) -> String {
        format!("webhook-{}", self.id)
    }
}

#[cfg(test)]
impl Agent {
    /// An agent `a` of crew `c`, workspace `w`, with `secret` and every limit at 1.
    pub(crate) fn for_tests(secret: &str) -> Self {
        Self {
            id: "a".parse().unwrap(),
            crew_id: "c".parse().unwrap(),
            workspace_id: "w".parse().unwrap(),
            name: "a".into(),
            adapter: Adapter::Command,
            command: vec![],
            model: None,
            env: BTreeMap::new(),
            webhook_secret: Some(Secret::new(secret)),
            previous_secret: None,
            require_timestamp: false,
            timeout_secs: None,
            rate_limit_per_min: 1,
            max_queued_runs: 1,
            max_concurrent_runs: 1,
            isolation: Isolation::default(),
            sources: Vec::new(),
            min_auth_strength: AuthStrength::default(),
            events: EventFilter::default(),
            callback: None,
        }
    }
}
