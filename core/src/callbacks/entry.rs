//! One callback in the outbox: what is sent (frozen when the run ended), where, and what
//! became of each attempt. Its JSON form (without the body) is what
//! `GET /api/v1/runs/{runId}/callbacks` answers.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::callback::CallbackEvent;
use crate::ids::{AgentId, CallbackId, RunId, WorkspaceId};
use crate::run::Run;

/// Longest attempt error kept, in bytes: an error names the cause, never the receiver's body.
pub const MAX_ERROR_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// A receiver answered `2xx`.
    Delivered,
    /// Every attempt of the schedule failed.
    GaveUp,
    /// The SSRF guard refused the target; never retried.
    Refused,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::GaveUp => "gave_up",
            Self::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::GaveUp, Self::Refused]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// One POST: when, and the receiver's status code or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Attempt {
    pub fn answered(at: OffsetDateTime, status_code: u16) -> Self {
        let error = (!(200..300).contains(&status_code))
            .then(|| format!("the receiver answered {status_code}"));
        Self {
            at,
            status_code: Some(status_code),
            error,
        }
    }

    pub fn failed(at: OffsetDateTime, error: impl Into<String>) -> Self {
        let mut error = error.into();
        if error.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        Self {
            at,
            status_code: None,
            error: Some(error),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The `webhook-id`, the same on every attempt.
    pub id: CallbackId,
    pub run_id: RunId,
    pub agent_id: AgentId,
    pub workspace_id: WorkspaceId,
    pub event: CallbackEvent,
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub state: CallbackState,
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due (while one is under way, when its claim ends); `None`
    /// once the callback is finished.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The exact bytes every attempt sends and signs: `{"type":…,"data":<run>}`, the run as
    /// the API shows it at its end, without its payload. Not part of the API's view.
    #[serde(skip_serializing, default)]
    pub body: String,
}

impl OutboxEntry {
    /// A pending callback for `run`, which just ended, due at once.
    pub fn new(run: &Run, url: &str, event: CallbackEvent, now: OffsetDateTime) -> Self {
        Self {
            id: CallbackId::generate(),
            run_id: run.id.clone(),
            agent_id: run.agent_id.clone(),
            workspace_id: run.workspace_id.clone(),
            event,
            url: url.to_owned(),
            created_at: now,
            state: CallbackState::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(now),
            body: body(run, event),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state != CallbackState::Pending
    }
}

/// The callback body: the run's API representation with `payload` left out (it may be large,
/// and the receiver sent it in the first place).
fn body(run: &Run, event: CallbackEvent) -> String {
    let mut data = serde_json::to_value(run).expect("runs serialise");
    if let Some(fields) = data.as_object_mut() {
        fields.remove("payload");
    }
    serde_json::json!({ "type": event.as_str(), "data": data }).to_string()
}
