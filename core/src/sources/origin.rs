//! Event, source and delivery id of a request a sender's own scheme verified, read the way that
//! sender writes them (`docs/senders/`). The service's own schemes keep the envelope and raw
//! forms of `docs/webhooks.md`; a sender's body is always taken whole — Stripe's top-level
//! `data` is Stripe's, not our envelope.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::run::AuthScheme;

/// Where a sender's request came from and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub event: String,
    pub source: String,
    /// The sender's id of this delivery when it is in the body (Stripe, Slack, Linear).
    pub delivery_id: Option<String>,
}

/// What a sender-verified body is: a run from `Origin`, or a request answered at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Run(Origin),
    /// Slack's `url_verification`: answered `200` with its challenge, no run.
    SlackChallenge(String),
}

/// Linear's documented window for `webhookTimestamp` (milliseconds), in seconds.
pub const LINEAR_TOLERANCE_SECS: i64 = 60;

/// Why a sender-verified body was refused after verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// Linear's `webhookTimestamp` is missing or outside its window.
    StaleLinearTimestamp,
}

/// The fields the senders put their event and id in; everything else is skipped unread.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    event: Option<SlackEvent>,
    event_id: Option<String>,
    status: Option<String>,
    alerts: Option<serde::de::IgnoredAny>,
    action: Option<String>,
    #[serde(rename = "webhookId")]
    webhook_id: Option<String>,
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: Option<i64>,
    challenge: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SlackEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The origin of a request `scheme` verified, `Ok(None)` for the service's own schemes (and
/// GitHub's, whose event comes from `X-GitHub-Event` as before). `body` is valid JSON.
pub fn of(
    scheme: AuthScheme,
    body: &str,
    headers: SenderEvents<'_>,
    now: OffsetDateTime,
) -> Result<Option<Reading>, OriginError> {
    let fields: Fields = serde_json::from_str(body).unwrap_or_default();
    let origin = |event: Option<String>, source: &str, delivery_id: Option<String>| Origin {
        event: event
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "webhook".into()),
        source: source.into(),
        delivery_id,
    };
    let alert = |status: &Option<String>| status.as_ref().map(|s| format!("alert.{s}"));
    Ok(Some(Reading::Run(match scheme {
        AuthScheme::Stripe => origin(fields.kind, "stripe", fields.id),
        AuthScheme::Slack => {
            if fields.kind.as_deref() == Some("url_verification") {
                let challenge = fields.challenge.unwrap_or_default();
                return Ok(Some(Reading::SlackChallenge(challenge)));
            }
            let event = fields.event.and_then(|e| e.kind).or(fields.kind);
            origin(event, "slack", fields.event_id)
        }
        AuthScheme::Svix => origin(fields.kind, "svix", None),
        AuthScheme::Grafana | AuthScheme::GrafanaTimestamp => {
            origin(alert(&fields.status), "grafana", None)
        }
        AuthScheme::Shopify => origin(headers.shopify_topic.map(str::to_owned), "shopify", None),
        AuthScheme::Linear => {
            let fresh = fields.webhook_timestamp.is_some_and(|ms| {
                (now.unix_timestamp() - ms.div_euclid(1000)).abs() <= LINEAR_TOLERANCE_SECS
            });
            if !fresh {
                return Err(OriginError::StaleLinearTimestamp);
            }
            let event = match (fields.kind, fields.action) {
                (Some(kind), Some(action)) => Some(format!("{kind}.{action}")),
                (kind, _) => kind,
            };
            origin(event, "linear", fields.webhook_id)
        }
        AuthScheme::GitLab => origin(headers.gitlab_event.map(str::to_owned), "gitlab", None),
        // Alertmanager can only send a static bearer token: its alerts read as Grafana's.
        AuthScheme::Bearer if fields.alerts.is_some() && fields.status.is_some() => {
            origin(alert(&fields.status), "alertmanager", None)
        }
        _ => return Ok(None),
    })))
}

/// The sender headers an origin reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SenderEvents<'a> {
    pub gitlab_event: Option<&'a str>,
    pub shopify_topic: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin_of(scheme: AuthScheme, body: &str) -> Origin {
        let at = OffsetDateTime::UNIX_EPOCH;
        run(of(scheme, body, SenderEvents::default(), at))
    }

    fn run(read: Result<Option<Reading>, OriginError>) -> Origin {
        match read {
            Ok(Some(Reading::Run(origin))) => origin,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn each_sender_names_its_event_and_delivery() {
        let stripe = origin_of(
            AuthScheme::Stripe,
            r#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#,
        );
        assert_eq!(
            stripe,
            Origin {
                event: "invoice.paid".into(),
                source: "stripe".into(),
                delivery_id: Some("evt_1".into())
            }
        );
        let slack = origin_of(
            AuthScheme::Slack,
            r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#,
        );
        assert_eq!(
            (slack.event.as_str(), slack.delivery_id.as_deref()),
            ("app_mention", Some("Ev1"))
        );
        let grafana = origin_of(AuthScheme::Grafana, r#"{"status":"firing","alerts":[]}"#);
        assert_eq!(grafana.event, "alert.firing");
        let am = origin_of(AuthScheme::Bearer, r#"{"status":"resolved","alerts":[]}"#);
        assert_eq!(
            (am.event.as_str(), am.source.as_str()),
            ("alert.resolved", "alertmanager")
        );
    }

    #[test]
    fn linear_needs_a_fresh_webhook_timestamp() {
        let body = |ms: i64| {
            format!(
                r#"{{"type":"Issue","action":"create","webhookId":"w1","webhookTimestamp":{ms}}}"#
            )
        };
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let ms = now.unix_timestamp() * 1000;
        let origin = run(of(
            AuthScheme::Linear,
            &body(ms),
            SenderEvents::default(),
            now,
        ));
        assert_eq!(
            (origin.event.as_str(), origin.delivery_id.as_deref()),
            ("Issue.create", Some("w1"))
        );
        let stale = of(
            AuthScheme::Linear,
            &body(ms - 61_000),
            SenderEvents::default(),
            now,
        );
        assert_eq!(stale, Err(OriginError::StaleLinearTimestamp));
    }

    #[test]
    fn slacks_url_verification_is_a_challenge_and_the_own_schemes_have_no_origin() {
        let got = of(
            AuthScheme::Slack,
            r#"{"type":"url_verification","challenge":"3eZbrw1a"}"#,
            SenderEvents::default(),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(got, Some(Reading::SlackChallenge("3eZbrw1a".into())));
        let own = of(
            AuthScheme::Signature,
            "{}",
            SenderEvents::default(),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(own, Ok(None));
    }
}
