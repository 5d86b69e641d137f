//! An agent record for tests: every field has a default, a test names only what it is about.

use std::collections::BTreeMap;

use crewship_core::agent::{Adapter, Agent, PreviousSecret};
use crewship_core::secret::Secret;
use time::OffsetDateTime;

use crate::fixture::SECRET;

/// Builds an [`Agent`]. Defaults: crew `crew`, workspace `ws`, named after its id, the `command`
/// adapter running `true`, the fixture's [`SECRET`], no previous secret or environment, no
/// timestamp required, no own timeout, 600 triggers a minute, 1000 queued runs, one at a time.
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    agent: Agent,
}

impl AgentBuilder {
    pub fn new(id: &str) -> Self {
        Self {
            agent: Agent {
                id: id.parse().expect("a valid agent id"),
                crew_id: "crew".parse().unwrap(),
                workspace_id: "ws".parse().unwrap(),
                name: id.into(),
                adapter: Adapter::Command,
                command: vec!["true".into()],
                model: None,
                env: BTreeMap::new(),
                webhook_secret: Some(Secret::new(SECRET)),
                previous_secret: None,
                require_timestamp: false,
                timeout_secs: None,
                rate_limit_per_min: 600,
                max_queued_runs: 1000,
                max_concurrent_runs: 1,
                isolation: Default::default(),
                sources: Vec::new(),
                min_auth_strength: Default::default(),
                events: Default::default(),
                callback: None,
            },
        }
    }

    pub fn crew(mut self, crew: &str) -> Self {
        self.agent.crew_id = crew.parse().expect("a valid crew id");
        self
    }

    pub fn workspace(mut self, workspace: &str) -> Self {
        self.agent.workspace_id = workspace.parse().expect("a valid workspace id");
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.agent.name = name.into();
        self
    }

    pub fn adapter(mut self, adapter: Adapter) -> Self {
        self.agent.adapter = adapter;
        self
    }

    /// The argv the `command` adapter runs.
    pub fn command<S: AsRef<str>>(mut self, argv: &[S]) -> Self {
        self.agent.command = argv.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    pub fn model(mut self, model: &str) -> Self {
        self.agent.model = Some(model.into());
        self
    }

    /// One more credential passed to the agent as an environment variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.agent
            .env
            .insert(name.into(), Secret::new(value.into()));
        self
    }

    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.agent.webhook_secret = Some(Secret::new(secret.into()));
        self
    }

    /// The secret a rotation replaced, accepted until `valid_until`.
    pub fn previous_secret(
        mut self,
        secret: impl Into<String>,
        valid_until: OffsetDateTime,
    ) -> Self {
        self.agent.previous_secret = Some(PreviousSecret {
            secret: Secret::new(secret.into()),
            valid_until,
        });
        self
    }

    pub fn require_timestamp(mut self, required: bool) -> Self {
        self.agent.require_timestamp = required;
        self
    }

    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.agent.timeout_secs = Some(secs);
        self
    }

    pub fn rate_limit_per_min(mut self, n: u32) -> Self {
        self.agent.rate_limit_per_min = n;
        self
    }

    pub fn max_queued_runs(mut self, n: u32) -> Self {
        self.agent.max_queued_runs = n;
        self
    }

    pub fn max_concurrent_runs(mut self, n: u32) -> Self {
        self.agent.max_concurrent_runs = n;
        self
    }

    pub fn isolation(mut self, isolation: crewship_core::isolation::Isolation) -> Self {
        self.agent.isolation = isolation;
        self
    }

    pub fn build(self) -> Agent {
        self.agent
    }
}

impl From<AgentBuilder> for Agent {
    fn from(builder: AgentBuilder) -> Self {
        builder.build()
    }
}
