//! More ways into one agent (`docs/senders/`): besides its own `webhook_secret`, an agent may
//! list *sources*, each a sender kind with its own secret, verified exactly as that sender signs
//! (Stripe, Slack, Svix, GitLab, Grafana, Shopify, Linear, a plain bearer token, …).
//!
//! - [`origin`]: event, source and delivery id of a verified request, per kind.
//! - [`strength`]: how strongly a scheme authenticates, and the agent's minimum.

pub mod origin;
pub mod strength;
#[cfg(test)]
mod vectors;

use std::ops::RangeInclusive;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agent::PreviousSecret;
use crate::agent_spec::InvalidAgent;
use crate::secret::Secret;
use time::OffsetDateTime;

pub use strength::AuthStrength;

/// The senders an agent can take requests from, each verified its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// `Stripe-Signature: t=…,v1=…` over `<t>.<body>`, keyed by the `whsec_…` string.
    Stripe,
    /// `X-Slack-Signature: v0=…` over `v0:<ts>:<body>`, keyed by the signing secret.
    Slack,
    /// `svix-id` / `svix-timestamp` / `svix-signature`, keyed by the decoded `whsec_` bytes.
    Svix,
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature`, keyed by the decoded `whsec_`
    /// bytes (a sender-issued secret).
    StandardWebhooks,
    /// `X-Hub-Signature-256`, keyed by another secret than the agent's own.
    Github,
    /// `X-Gitlab-Token`: a plaintext token.
    Gitlab,
    /// `X-Grafana-Alerting-Signature` (hex) over the body, or over `<ts>:<body>` with
    /// `X-Grafana-Alerting-Timestamp`.
    Grafana,
    /// `X-Shopify-Hmac-Sha256` (base64) over the body.
    Shopify,
    /// `Linear-Signature` (hex) over the body; `webhookTimestamp` in the body.
    Linear,
    /// `Authorization: Bearer <token>`: a plaintext token (Alertmanager, anything that can only
    /// send a static header).
    Bearer,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Slack => "slack",
            Self::Svix => "svix",
            Self::StandardWebhooks => "standard-webhooks",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Grafana => "grafana",
            Self::Shopify => "shopify",
            Self::Linear => "linear",
            Self::Bearer => "bearer",
        }
    }
}

/// One more way into an agent. The secret is write-only: views show [`Source::fingerprint`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: SourceKind,
    pub secret: Secret,
    /// The secret a rotation replaced, verifying until its grace period ends (set only by the
    /// rotation endpoint; a configuration's or a spec's is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
}

/// A source's secret: long enough to resist guessing, short enough to be a header value.
pub const SOURCE_SECRET_LEN: RangeInclusive<usize> = 16..=512;
/// Sources an agent may list.
pub const MAX_SOURCES: usize = 16;

impl Source {
    /// The HMAC key (or token) the secret stands for. Svix and Standard Webhooks senders issue
    /// `whsec_` + base64 of random bytes, and key with those bytes; everyone else keys with the
    /// secret's text as given (Stripe's `whsec_…` included).
    pub fn key(&self) -> Vec<u8> {
        self.key_of(&self.secret)
    }

    /// The keys that verify at `now`: the current secret's, and the previous one's during its
    /// grace period.
    pub fn verifying_keys(&self, now: OffsetDateTime) -> impl Iterator<Item = Vec<u8>> + '_ {
        let previous = self
            .previous
            .as_ref()
            .filter(|p| now <= p.valid_until)
            .map(|p| self.key_of(&p.secret));
        std::iter::once(self.key()).chain(previous)
    }

    fn key_of(&self, secret: &Secret) -> Vec<u8> {
        let text = secret.expose();
        if matches!(self.kind, SourceKind::Svix | SourceKind::StandardWebhooks)
            && let Some(b64) = text.strip_prefix("whsec_")
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
        {
            return bytes;
        }
        text.as_bytes().to_vec()
    }

    /// What a read shows of the secret: the first 8 bytes of its SHA-256, in hex.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.secret.expose().as_bytes());
        hex::encode(&digest[..8])
    }
}

/// The checks `AgentSpec::validate` applies to the `sources` list.
pub fn validate(sources: &[Source]) -> Result<(), InvalidAgent> {
    let invalid = |message: String| InvalidAgent {
        field: "sources",
        message,
    };
    if sources.len() > MAX_SOURCES {
        return Err(invalid(format!("at most {MAX_SOURCES} sources")));
    }
    for source in sources {
        let len = source.secret.expose().len();
        if !SOURCE_SECRET_LEN.contains(&len) {
            return Err(invalid(format!(
                "the {} source's secret must be {} to {} bytes",
                source.kind.as_str(),
                SOURCE_SECRET_LEN.start(),
                SOURCE_SECRET_LEN.end()
            )));
        }
        let whsec = source.secret.expose().strip_prefix("whsec_");
        if matches!(source.kind, SourceKind::Svix | SourceKind::StandardWebhooks)
            && whsec.is_some_and(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .is_err()
            })
        {
            return Err(invalid(format!(
                "the {} source's whsec_ secret is not valid base64",
                source.kind.as_str()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(kind: SourceKind, secret: &str) -> Source {
        Source {
            kind,
            secret: Secret::new(secret),
            previous: None,
        }
    }

    #[test]
    fn sender_issued_secrets_key_with_their_decoded_bytes_and_stripes_with_its_text() {
        let issued = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(
            source(SourceKind::Svix, issued).key(),
            base64::engine::general_purpose::STANDARD
                .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap()
        );
        assert_eq!(source(SourceKind::Stripe, issued).key(), issued.as_bytes());
    }

    #[test]
    fn a_fingerprint_names_the_secret_without_showing_it() {
        let s = source(SourceKind::Bearer, "a-static-token-for-alertmanager");
        let f = s.fingerprint();
        assert_eq!(f.len(), 16);
        assert!(!"a-static-token-for-alertmanager".contains(&f));
    }

    #[test]
    fn short_secrets_and_bad_whsec_are_refused() {
        assert!(validate(&[source(SourceKind::Gitlab, "short")]).is_err());
        assert!(validate(&[source(SourceKind::Svix, "whsec_!!not-base64!!")]).is_err());
        assert!(validate(&[source(SourceKind::Stripe, "whsec_!!stripe-text-is-fine")]).is_ok());
    }
}
