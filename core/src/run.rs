//! The run record (`docs/executor.md`, States) and its state machine.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::agent::Agent;
use crate::ids::{AgentId, CrewId, RunId, WorkspaceId};
use crate::sources::AuthStrength;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Timeout,
    Cancelled,
    /// The agent's event filter skipped the delivery: recorded, never executed, counted against
    /// no cap (`docs/event-filters.md`).
    Filtered,
}

impl RunStatus {
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Timeout,
        Self::Cancelled,
        Self::Filtered,
    ];

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Timeout => "TIMEOUT",
            Self::Cancelled => "CANCELLED",
            Self::Filtered => "FILTERED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerType {
    Webhook,
    /// Made by `POST /api/v1/runs/{runId}/replay` from an earlier run (`docs/replay.md`).
    Replay,
}

impl TriggerType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "WEBHOOK",
            Self::Replay => "REPLAY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Webhook, Self::Replay]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The most of an agent's answer a run keeps (`result`), in bytes; longer answers are cut at a
/// character boundary.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;

/// What a run cost, as far as its adapter knows (claude-code's final `result` line).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u32>,
}

/// Which credential scheme authenticated the request that created the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthScheme {
    #[serde(rename = "signature")]
    Signature,
    #[serde(rename = "signature+timestamp")]
    SignatureTimestamp,
    #[serde(rename = "github")]
    GitHub,
    #[serde(rename = "standard-webhooks")]
    StandardWebhooks,
    #[serde(rename = "legacy-secret")]
    LegacySecret,
    #[serde(rename = "stripe")]
    Stripe,
    #[serde(rename = "slack")]
    Slack,
    #[serde(rename = "svix")]
    Svix,
    #[serde(rename = "grafana")]
    Grafana,
    #[serde(rename = "grafana+timestamp")]
    GrafanaTimestamp,
    #[serde(rename = "shopify")]
    Shopify,
    #[serde(rename = "linear")]
    Linear,
    #[serde(rename = "gitlab")]
    GitLab,
    #[serde(rename = "bearer")]
    Bearer,
}

impl AuthScheme {
    /// The header a sender used, for messages.
    pub fn header(self) -> &'static str {
        match self {
            Self::Signature | Self::SignatureTimestamp => "X-Signature",
            Self::GitHub => "X-Hub-Signature-256",
            Self::StandardWebhooks => "webhook-signature",
            Self::LegacySecret => "X-Webhook-Secret",
            Self::Stripe => "Stripe-Signature",
            Self::Slack => "X-Slack-Signature",
            Self::Svix => "svix-signature",
            Self::Grafana | Self::GrafanaTimestamp => "X-Grafana-Alerting-Signature",
            Self::Shopify => "X-Shopify-Hmac-Sha256",
            Self::Linear => "Linear-Signature",
            Self::GitLab => "X-Gitlab-Token",
            Self::Bearer => "Authorization",
        }
    }

    /// The name runs and the agent's `CREWSHIP_AUTH_SCHEME` carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::SignatureTimestamp => "signature+timestamp",
            Self::GitHub => "github",
            Self::StandardWebhooks => "standard-webhooks",
            Self::LegacySecret => "legacy-secret",
            Self::Stripe => "stripe",
            Self::Slack => "slack",
            Self::Svix => "svix",
            Self::Grafana => "grafana",
            Self::GrafanaTimestamp => "grafana+timestamp",
            Self::Shopify => "shopify",
            Self::Linear => "linear",
            Self::GitLab => "gitlab",
            Self::Bearer => "bearer",
        }
    }

    /// How strongly the scheme authenticates (`docs/security.md`). Linear's timestamp travels
    /// in the signed body and is checked after verification.
    pub fn strength(self) -> AuthStrength {
        match self {
            Self::SignatureTimestamp
            | Self::StandardWebhooks
            | Self::Stripe
            | Self::Slack
            | Self::Svix
            | Self::GrafanaTimestamp
            | Self::Linear => AuthStrength::Timestamped,
            Self::Signature | Self::GitHub | Self::Grafana | Self::Shopify => AuthStrength::Signed,
            Self::LegacySecret | Self::GitLab | Self::Bearer => AuthStrength::Static,
        }
    }

    /// Whether the body may be the envelope form of `docs/webhooks.md`. A sender's own body is
    /// always taken whole: Stripe's and Svix's top-level `data` is theirs.
    pub fn reads_envelope(self) -> bool {
        matches!(
            self,
            Self::Signature
                | Self::SignatureTimestamp
                | Self::GitHub
                | Self::StandardWebhooks
                | Self::LegacySecret
                | Self::Bearer
        )
    }

    pub fn is_timestamped(self) -> bool {
        self.strength() == AuthStrength::Timestamped
    }
}

/// A claim on a RUNNING run: who executes it and until when, unless renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub crew_id: CrewId,
    pub agent_id: AgentId,
    pub chat_id: String,
    pub trigger_type: TriggerType,
    pub status: RunStatus,
    pub event: String,
    pub source: String,
    pub auth_scheme: AuthScheme,
    /// `auth_scheme`'s strength, recorded beside it for filters and the agent's environment.
    #[serde(default)]
    pub auth_strength: AuthStrength,
    pub delivery_id: Option<String>,
    /// The whole request body as received (validated JSON), so numbers keep their spelling.
    pub payload: Arc<RawValue>,
    /// The stored payload could not be found (a large payload's object expired or was
    /// deleted): `payload` is `null`. Only this run's field degrades, never a listing; the
    /// executor fails such a run instead of running the agent without its payload.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub payload_missing: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub finished_at: Option<OffsetDateTime>,
    pub duration_ms: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub deadline_at: Option<OffsetDateTime>,
    pub exit_code: Option<i32>,
    pub error_message: Option<String>,
    pub attempt: u32,
    /// The run this one replays (`trigger_type` `REPLAY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<RunId>,
    /// The agent's answer, at most [`MAX_RESULT_BYTES`]: claude-code's final `result`, or what a
    /// `command` agent wrote to `CREWSHIP_RESULT_FILE`.
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Internal bookkeeping below: not part of the API's run representation.
    #[serde(skip_serializing, default)]
    pub lease: Option<Lease>,
    #[serde(skip_serializing, default)]
    pub cancel_requested: bool,
    /// Bumped by the store on every write; every update is conditional on it.
    #[serde(skip_serializing, default)]
    pub version: u64,
}

/// What the trigger endpoint learned about a request, enough to create its run.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: RunId,
    pub event: String,
    pub source: String,
    pub auth_scheme: AuthScheme,
    pub delivery_id: Option<String>,
    pub payload: Arc<RawValue>,
}

impl Run {
    pub fn queued(agent: &Agent, new: NewRun, now: OffsetDateTime) -> Self {
        Self {
            id: new.id,
            workspace_id: agent.workspace_id.clone(),
            crew_id: agent.crew_id.clone(),
            agent_id: agent.id.clone(),
            chat_id: agent.chat_id(),
            trigger_type: TriggerType::Webhook,
            status: RunStatus::Queued,
            event: new.event,
            source: new.source,
            auth_scheme: new.auth_scheme,
            auth_strength: new.auth_scheme.strength(),
            delivery_id: new.delivery_id,
            payload: new.payload,
            payload_missing: false,
            created_at: now,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            deadline_at: None,
            exit_code: None,
            error_message: None,
            attempt: 0,
            replay_of: None,
            result: None,
            usage: None,
            lease: None,
            cancel_requested: false,
            version: 0,
        }
    }

    /// Sets the terminal fields together, so no finished run lacks `finished_at` or `duration_ms`.
    pub fn finish(
        &mut self,
        status: RunStatus,
        exit_code: Option<i32>,
        error: Option<String>,
        now: OffsetDateTime,
    ) {
        debug_assert!(status.is_terminal());
        let started = self.started_at.unwrap_or(now);
        self.status = status;
        self.exit_code = exit_code;
        self.error_message = error;
        self.finished_at = Some(now);
        self.duration_ms = Some(u64::try_from((now - started).whole_milliseconds()).unwrap_or(0));
        self.lease = None;
    }
}
