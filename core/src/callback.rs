//! An agent's completion callback as configured (`docs/callbacks.md`): where a finished run is
//! reported, for which outcomes, and with which secret. Delivery (the outbox, the signed POST,
//! the retries) is the executor's; this is only the agent's side of it.

use serde::{Deserialize, Serialize};

use crate::agent_spec::{InvalidAgent, SECRET_LEN};
use crate::run::RunStatus;
use crate::secret::Secret;

pub const MAX_URL_LEN: usize = 2048;

/// The two callback event types, also the `type` of the callback body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallbackEvent {
    #[serde(rename = "run.completed")]
    RunCompleted,
    #[serde(rename = "run.failed")]
    RunFailed,
}

impl CallbackEvent {
    pub const ALL: [Self; 2] = [Self::RunCompleted, Self::RunFailed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunCompleted => "run.completed",
            Self::RunFailed => "run.failed",
        }
    }

    /// The event a run that ended in `status` reports: `COMPLETED` completed; `FAILED`,
    /// `TIMEOUT` and `CANCELLED` failed; a `FILTERED` run never ran and reports nothing, like a
    /// run that has not ended.
    pub fn of(status: RunStatus) -> Option<Self> {
        match status {
            RunStatus::Completed => Some(Self::RunCompleted),
            RunStatus::Failed | RunStatus::Timeout | RunStatus::Cancelled => Some(Self::RunFailed),
            RunStatus::Queued | RunStatus::Running | RunStatus::Filtered => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// Where and for what an agent's finished runs are reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// An absolute `http` or `https` URL; whether its address may be reached is decided at
    /// delivery time (the SSRF guard), since a name may resolve differently later.
    pub url: String,
    pub events: Vec<CallbackEvent>,
    /// Signs the callbacks instead of the agent's webhook secret when set.
    #[serde(default)]
    pub secret: Option<Secret>,
}

impl Callback {
    /// Whether a run that ended in `status` is reported.
    pub fn wants(&self, status: RunStatus) -> Option<CallbackEvent> {
        CallbackEvent::of(status).filter(|e| self.events.contains(e))
    }

    /// Validates the spec's `callback_url`, `callback_events` and `callback_secret`.
    pub fn from_spec(
        url: Option<String>,
        events: Option<Vec<String>>,
        secret: Option<Secret>,
    ) -> Result<Option<Self>, InvalidAgent> {
        let Some(url) = url else {
            if events.is_some() || secret.is_some() {
                let field = if events.is_some() {
                    "callback_events"
                } else {
                    "callback_secret"
                };
                return Err(invalid(field, "needs a `callback_url`"));
            }
            return Ok(None);
        };
        check_url(&url)?;
        let events = match events {
            None => CallbackEvent::ALL.to_vec(),
            Some(names) if names.is_empty() => {
                return Err(invalid(
                    "callback_events",
                    "must name at least one of run.completed, run.failed (omit it for both)",
                ));
            }
            Some(names) => {
                let mut events = Vec::with_capacity(names.len());
                for name in &names {
                    let event = CallbackEvent::parse(name).ok_or_else(|| {
                        invalid(
                            "callback_events",
                            format!("{name:?} is not run.completed or run.failed"),
                        )
                    })?;
                    if !events.contains(&event) {
                        events.push(event);
                    }
                }
                events
            }
        };
        if let Some(secret) = &secret
            && !SECRET_LEN.contains(&secret.expose().len())
        {
            return Err(invalid(
                "callback_secret",
                format!(
                    "must be {} to {} bytes",
                    SECRET_LEN.start(),
                    SECRET_LEN.end()
                ),
            ));
        }
        Ok(Some(Self {
            url,
            events,
            secret,
        }))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidAgent {
    InvalidAgent {
        field,
        message: message.into(),
    }
}

/// `http(s)://host[:port][/path][?query]`, printable ASCII, no credentials, no fragment.
fn check_url(url: &str) -> Result<(), InvalidAgent> {
    let bad = |why: &str| {
        invalid(
            "callback_url",
            format!("{why}: use an absolute http(s) URL"),
        )
    };
    if url.len() > MAX_URL_LEN {
        return Err(bad(&format!("longer than {MAX_URL_LEN} bytes")));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("contains spaces or non-ASCII bytes"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("not http or https"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("has credentials in it"));
    }
    if url.contains('#') {
        return Err(bad("has a fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(url: &str) -> Result<Option<Callback>, InvalidAgent> {
        Callback::from_spec(Some(url.into()), None, None)
    }

    #[test]
    fn a_url_alone_reports_both_outcomes() {
        let cb = of("https://ci.example.com/hooks/agent?x=1")
            .unwrap()
            .unwrap();
        assert_eq!(cb.events, CallbackEvent::ALL);
        assert_eq!(cb.wants(RunStatus::Timeout), Some(CallbackEvent::RunFailed));
        assert_eq!(cb.wants(RunStatus::Filtered), None);
    }

    #[test]
    fn unusable_urls_and_orphan_fields_are_named() {
        for url in [
            "ftp://x",
            "https://",
            "https://u:p@host/",
            "https://host/#frag",
            "https://ho st/",
            "/relative",
        ] {
            assert_eq!(of(url).unwrap_err().field, "callback_url", "{url}");
        }
        let e = Callback::from_spec(None, Some(vec!["run.failed".into()]), None).unwrap_err();
        assert_eq!(e.field, "callback_events");
        let e = Callback::from_spec(Some("http://h".into()), Some(vec!["run.done".into()]), None)
            .unwrap_err();
        assert_eq!(e.field, "callback_events");
        let e = Callback::from_spec(Some("http://h".into()), None, Some(Secret::new("short")))
            .unwrap_err();
        assert_eq!(e.field, "callback_secret");
    }

    #[test]
    fn only_the_chosen_outcomes_are_reported() {
        let cb = Callback::from_spec(
            Some("http://h".into()),
            Some(vec!["run.failed".into()]),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(cb.wants(RunStatus::Completed), None);
        assert_eq!(
            cb.wants(RunStatus::Cancelled),
            Some(CallbackEvent::RunFailed)
        );
    }
}
