//! Webhook authentication (`docs/webhooks.md`, Authentication schemes) as types: a [`Verified`]
//! request can only be made by [`Unverified::authenticate`], so code that reads a payload cannot
//! skip the check.

use base64::Engine;
use bytes::Bytes;
use time::OffsetDateTime;

use crate::agent::Agent;
use crate::run::AuthScheme;
use crate::secret::Secret;
use crate::signature::{Tag, hmac_sha256, parse_hex_tag, tags_equal};
use crate::sources::SourceKind;

/// The credential a request presented, chosen by the precedence of `docs/webhooks.md`'s
/// Authentication schemes. Malformed values are kept as "matches nothing" rather than rejected
/// early, so every failure looks the same.
#[derive(Debug, Clone)]
pub enum Credential {
    Signature {
        tag: Option<Tag>,
        timestamp: Option<String>,
    },
    GitHub {
        tag: Option<Tag>,
    },
    StandardWebhooks {
        id: String,
        timestamp: String,
        tags: Vec<Tag>,
    },
    LegacySecret(Secret),
    /// `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]`.
    Stripe {
        timestamp: String,
        tags: Vec<Tag>,
    },
    /// `X-Slack-Signature: v0=<hex>` with `X-Slack-Request-Timestamp`.
    Slack {
        timestamp: String,
        tag: Option<Tag>,
    },
    /// `svix-id`, `svix-timestamp`, `svix-signature`: Standard Webhooks under Svix's names.
    Svix {
        id: String,
        timestamp: String,
        tags: Vec<Tag>,
    },
    /// `X-Grafana-Alerting-Signature` (hex), over `<ts>:<body>` when a timestamp came.
    Grafana {
        tag: Option<Tag>,
        timestamp: Option<String>,
    },
    /// `X-Shopify-Hmac-Sha256` (base64) over the body.
    Shopify {
        tag: Option<Tag>,
    },
    /// `Linear-Signature` (hex) over the body.
    Linear {
        tag: Option<Tag>,
    },
    /// `X-Gitlab-Token`.
    GitLab(Secret),
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

/// `v1,<base64>` entries of a space-separated Standard Webhooks signature header.
fn v1_tags(signatures: &str) -> Vec<Tag> {
    let b64 = base64::engine::general_purpose::STANDARD;
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| b64.decode(s).ok())
        .filter_map(|v| Tag::try_from(v.as_slice()).ok())
        .collect()
}

/// Constant-time equality of two tokens of any length: their digests are compared.
fn tokens_equal(key: &[u8], presented: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    !key.is_empty() && bool::from(Sha256::digest(key).ct_eq(&Sha256::digest(presented)))
}

/// `Some(tag)` of the presented tags that equals `expected`, checking every one.
fn any_equal(tags: &[Tag], expected: &Tag) -> Option<Tag> {
    let mut matched = None;
    for tag in tags {
        if tags_equal(tag, expected) {
            matched = Some(*tag);
        }
    }
    matched
}

impl Credential {
    pub fn signature(hex: &str, timestamp: Option<&str>) -> Self {
        Self::Signature {
            tag: parse_hex_tag(hex),
            timestamp: timestamp.map(str::to_owned),
        }
    }

    pub fn github(header: &str) -> Self {
        Self::GitHub {
            tag: header.strip_prefix("sha256=").and_then(parse_hex_tag),
        }
    }

    pub fn standard_webhooks(id: &str, timestamp: &str, signatures: &str) -> Self {
        Self::StandardWebhooks {
            id: id.to_owned(),
            timestamp: timestamp.to_owned(),
            tags: v1_tags(signatures),
        }
    }

    pub fn svix(id: &str, timestamp: &str, signatures: &str) -> Self {
        Self::Svix {
            id: id.to_owned(),
            timestamp: timestamp.to_owned(),
            tags: v1_tags(signatures),
        }
    }

    /// `t=…,v1=…,v1=…`; other schemes (`v0`) are ignored, as Stripe's libraries do. Without a
    /// `t` the timestamp is empty, which the timestamp check refuses.
    pub fn stripe(header: &str) -> Self {
        let mut timestamp = String::new();
        let mut tags = Vec::new();
        for item in header.split(',') {
            match item.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.to_owned(),
                Some(("v1", hex)) => tags.extend(parse_hex_tag(hex)),
                _ => {}
            }
        }
        Self::Stripe { timestamp, tags }
    }

    pub fn slack(signature: &str, timestamp: &str) -> Self {
        Self::Slack {
            timestamp: timestamp.to_owned(),
            tag: signature.strip_prefix("v0=").and_then(parse_hex_tag),
        }
    }

    pub fn grafana(signature: &str, timestamp: Option<&str>) -> Self {
        Self::Grafana {
            tag: parse_hex_tag(signature),
            timestamp: timestamp.map(str::to_owned),
        }
    }

    pub fn shopify(signature: &str) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        Self::Shopify {
            tag: b64
                .decode(signature)
                .ok()
                .and_then(|v| Tag::try_from(v.as_slice()).ok()),
        }
    }

    pub fn linear(signature: &str) -> Self {
        Self::Linear {
            tag: parse_hex_tag(signature),
        }
    }

    pub fn scheme(&self) -> AuthScheme {
        match self {
            Self::Signature {
                timestamp: Some(_), ..
            } => AuthScheme::SignatureTimestamp,
            Self::Signature { .. } => AuthScheme::Signature,
            Self::GitHub { .. } => AuthScheme::GitHub,
            Self::StandardWebhooks { .. } => AuthScheme::StandardWebhooks,
            Self::LegacySecret(_) => AuthScheme::LegacySecret,
            Self::Stripe { .. } => AuthScheme::Stripe,
            Self::Slack { .. } => AuthScheme::Slack,
            Self::Svix { .. } => AuthScheme::Svix,
            Self::Grafana {
                timestamp: Some(_), ..
            } => AuthScheme::GrafanaTimestamp,
            Self::Grafana { .. } => AuthScheme::Grafana,
            Self::Shopify { .. } => AuthScheme::Shopify,
            Self::Linear { .. } => AuthScheme::Linear,
            Self::GitLab(_) => AuthScheme::GitLab,
            Self::Bearer(_) => AuthScheme::Bearer,
        }
    }

    pub fn timestamp(&self) -> Option<&str> {
        match self {
            Self::Signature { timestamp, .. } | Self::Grafana { timestamp, .. } => {
                timestamp.as_deref()
            }
            Self::StandardWebhooks { timestamp, .. }
            | Self::Svix { timestamp, .. }
            | Self::Stripe { timestamp, .. }
            | Self::Slack { timestamp, .. } => Some(timestamp),
            _ => None,
        }
    }

    /// Whether the agent's own `webhook_secret` verifies this credential.
    fn takes_own_secret(&self) -> bool {
        matches!(
            self,
            Self::Signature { .. }
                | Self::GitHub { .. }
                | Self::StandardWebhooks { .. }
                | Self::LegacySecret(_)
        )
    }

    /// The kind of source whose secrets verify this credential.
    fn source_kind(&self) -> Option<SourceKind> {
        Some(match self {
            Self::GitHub { .. } => SourceKind::Github,
            Self::StandardWebhooks { .. } => SourceKind::StandardWebhooks,
            Self::Stripe { .. } => SourceKind::Stripe,
            Self::Slack { .. } => SourceKind::Slack,
            Self::Svix { .. } => SourceKind::Svix,
            Self::Grafana { .. } => SourceKind::Grafana,
            Self::Shopify { .. } => SourceKind::Shopify,
            Self::Linear { .. } => SourceKind::Linear,
            Self::GitLab(_) => SourceKind::Gitlab,
            Self::Bearer(_) => SourceKind::Bearer,
            Self::Signature { .. } | Self::LegacySecret(_) => return None,
        })
    }

    /// Checks the credential against one key: `Some(tag)` when it verifies (`Some(None)` for a
    /// static token, which has no tag). An empty key never verifies.
    fn check(&self, key: &[u8], body: &[u8]) -> Option<Option<Tag>> {
        if key.is_empty() {
            return None;
        }
        let one = |tag: &Option<Tag>, expected: Tag| match tag {
            Some(tag) if tags_equal(tag, &expected) => Some(Some(*tag)),
            _ => None,
        };
        match self {
            Self::Signature { tag, timestamp } => {
                let expected = match timestamp {
                    Some(ts) => hmac_sha256(key, &[ts.as_bytes(), b".", body]),
                    None => hmac_sha256(key, &[body]),
                };
                one(tag, expected)
            }
            Self::GitHub { tag } | Self::Shopify { tag } | Self::Linear { tag } => {
                one(tag, hmac_sha256(key, &[body]))
            }
            Self::StandardWebhooks {
                id,
                timestamp,
                tags,
            }
            | Self::Svix {
                id,
                timestamp,
                tags,
            } => {
                let expected = hmac_sha256(
                    key,
                    &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
                );
                any_equal(tags, &expected).map(Some)
            }
            Self::Stripe { timestamp, tags } => {
                let expected = hmac_sha256(key, &[timestamp.as_bytes(), b".", body]);
                any_equal(tags, &expected).map(Some)
            }
            Self::Slack { timestamp, tag } => one(
                tag,
                hmac_sha256(key, &[b"v0:", timestamp.as_bytes(), b":", body]),
            ),
            Self::Grafana { tag, timestamp } => {
                let expected = match timestamp {
                    Some(ts) => hmac_sha256(key, &[ts.as_bytes(), b":", body]),
                    None => hmac_sha256(key, &[body]),
                };
                one(tag, expected)
            }
            Self::LegacySecret(presented) | Self::GitLab(presented) | Self::Bearer(presented) => {
                tokens_equal(key, presented.expose().as_bytes()).then_some(None)
            }
        }
    }
}

#[derive(Debug)]
pub struct Unverified {
    pub credential: Credential,
    pub body: Bytes,
}

/// A request whose credential verified against its agent's secret.
#[derive(Debug)]
pub struct Verified {
    scheme: AuthScheme,
    tag: Option<Tag>,
    timestamp: Option<String>,
    body: Bytes,
}

impl Verified {
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    /// The verified MAC, for deduplication (`None` for the plaintext scheme).
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// A fixed key for the decoy checks, so that the time an answer takes does not tell whether the
/// agent exists or is in a rotation's grace period.
const DECOY_SECRET: &str = "decoy-secret-for-unknown-agents-0000000000000000000000000000000";

/// Checks every authentication costs: the most secrets an agent can have verifying at once (the
/// current one and, during a grace period, the previous one).
pub const CHECKS_PER_AUTHENTICATION: usize = 2;

impl Unverified {
    /// Verifies against the agent's current secret and, during a rotation's grace period, its
    /// previous one. `None` (unknown, deleted, foreign or secretless agent) fails. Every call
    /// does [`CHECKS_PER_AUTHENTICATION`] checks, padding with decoys: with one check for an
    /// unknown agent and two for one that rotated, a single 1 MiB request told "this agent
    /// exists and rotated in the last day" 70 % of the time (~900 µs apart).
    pub fn authenticate(
        self,
        agent: Option<&Agent>,
        now: OffsetDateTime,
    ) -> Result<Verified, Self> {
        let mut matched = None;
        let mut tried = 0;
        let mut try_key = |key: &[u8]| {
            tried += 1;
            if let Some(tag) = self.credential.check(key, &self.body) {
                matched = Some(tag);
            }
        };
        if let Some(agent) = agent {
            if self.credential.takes_own_secret() {
                for secret in agent.verifying_secrets(now) {
                    try_key(secret.expose().as_bytes());
                }
            }
            if let Some(kind) = self.credential.source_kind() {
                for source in agent.sources.iter().filter(|s| s.kind == kind) {
                    for key in source.verifying_keys(now) {
                        try_key(&key);
                    }
                }
            }
        }
        for _ in tried..CHECKS_PER_AUTHENTICATION {
            let _ =
                std::hint::black_box(self.credential.check(DECOY_SECRET.as_bytes(), &self.body));
        }
        match matched {
            Some(tag) => Ok(Verified {
                scheme: self.credential.scheme(),
                tag,
                timestamp: self.credential.timestamp().map(str::to_owned),
                body: self.body,
            }),
            None => Err(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::PreviousSecret;

    fn agent(secret: &str) -> Agent {
        Agent::for_tests(secret)
    }

    fn attempt(credential: Credential, body: &[u8], agent: Option<&Agent>) -> bool {
        let req = Unverified {
            credential,
            body: Bytes::copy_from_slice(body),
        };
        req.authenticate(agent, OffsetDateTime::UNIX_EPOCH).is_ok()
    }

    const BODY: &[u8] = br#"{"event":"push"}"#;
    // printf '{"event":"push"}' | openssl dgst -sha256 -hmac s3cret
    const SIG: &str = "82017e44486e567046c1efbd37f3e197c772a48337ba99c01adc761b83fa51df";

    /// The HMACs one authentication computes.
    fn hmacs(credential: Credential, agent: Option<&Agent>) -> usize {
        let before = crate::signature::HMACS.with(std::cell::Cell::get);
        attempt(credential, BODY, agent);
        crate::signature::HMACS.with(std::cell::Cell::get) - before
    }

    #[test]
    fn every_authentication_costs_the_same_whatever_the_agents_state() {
        let plain = agent("s3cret");
        let mut rotated = agent("n3w-secret");
        rotated.previous_secret = Some(PreviousSecret {
            secret: Secret::new("s3cret"),
            valid_until: OffsetDateTime::UNIX_EPOCH + time::Duration::days(1),
        });
        let wrong = || Credential::signature(&"0".repeat(64), None);
        let costs = [
            hmacs(wrong(), None),
            hmacs(wrong(), Some(&plain)),
            hmacs(wrong(), Some(&rotated)),
            hmacs(Credential::signature(SIG, None), Some(&plain)),
            hmacs(Credential::signature(SIG, None), Some(&rotated)),
        ];
        assert_eq!(costs, [CHECKS_PER_AUTHENTICATION; 5]);
    }

    #[test]
    fn x_signature_verifies_in_either_hex_case() {
        let a = agent("s3cret");
        assert!(attempt(Credential::signature(SIG, None), BODY, Some(&a)));
        assert!(attempt(
            Credential::signature(&SIG.to_uppercase(), None),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(Credential::signature(SIG, None), b"{}", Some(&a)));
        assert!(!attempt(Credential::signature(SIG, None), BODY, None));
    }

    #[test]
    fn timestamped_signature_covers_timestamp_dot_body() {
        // printf '1700000000.{"event":"push"}' | openssl dgst -sha256 -hmac s3cret
        let sig = hex::encode(hmac_sha256(b"s3cret", &[b"1700000000.", BODY]));
        let a = agent("s3cret");
        assert!(attempt(
            Credential::signature(&sig, Some("1700000000")),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(
            Credential::signature(&sig, Some("1700000001")),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(Credential::signature(&sig, None), BODY, Some(&a)));
    }

    #[test]
    fn github_header_needs_its_prefix() {
        let a = agent("s3cret");
        assert!(attempt(
            Credential::github(&format!("sha256={SIG}")),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(Credential::github(SIG), BODY, Some(&a)));
    }

    #[test]
    fn standard_webhooks_accepts_any_of_several_signatures() {
        let a = agent("s3cret");
        let tag = hmac_sha256(b"s3cret", &[b"msg_1.1700000000.", BODY]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(tag);
        let header = format!("v1,AAAA v2,{b64} v1,{b64}");
        assert!(attempt(
            Credential::standard_webhooks("msg_1", "1700000000", &header),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(
            Credential::standard_webhooks("msg_2", "1700000000", &header),
            BODY,
            Some(&a)
        ));
    }

    #[test]
    fn legacy_secret_and_empty_secrets() {
        let a = agent("s3cret");
        assert!(attempt(
            Credential::LegacySecret(Secret::new("s3cret")),
            BODY,
            Some(&a)
        ));
        assert!(!attempt(
            Credential::LegacySecret(Secret::new("s3cre")),
            BODY,
            Some(&a)
        ));
        let empty = agent("");
        assert!(!attempt(
            Credential::LegacySecret(Secret::new("")),
            BODY,
            Some(&empty)
        ));
        let sig = hex::encode(hmac_sha256(b"", &[BODY]));
        assert!(!attempt(
            Credential::signature(&sig, None),
            BODY,
            Some(&empty)
        ));
    }

    #[test]
    fn a_rotated_sources_previous_secret_verifies_only_during_its_grace_period() {
        use crate::sources::{Source, SourceKind};
        use base64::Engine;
        let mut a = agent("the-agents-own-secret");
        a.sources = vec![Source {
            kind: SourceKind::Shopify,
            secret: Secret::new("new-shopify-secret-0123"),
            previous: Some(PreviousSecret {
                secret: Secret::new("old-shopify-secret-0123"),
                valid_until: OffsetDateTime::UNIX_EPOCH,
            }),
        }];
        let signed_with = |secret: &str| {
            let tag = crate::signature::hmac_sha256(secret.as_bytes(), &[BODY]);
            base64::engine::general_purpose::STANDARD.encode(tag)
        };
        let req = |secret: &str, now| {
            Unverified {
                credential: Credential::shopify(&signed_with(secret)),
                body: Bytes::from_static(BODY),
            }
            .authenticate(Some(&a), now)
            .is_ok()
        };
        let (grace, after) = (
            OffsetDateTime::UNIX_EPOCH,
            OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1),
        );
        assert!(req("new-shopify-secret-0123", grace));
        assert!(req("new-shopify-secret-0123", after));
        assert!(req("old-shopify-secret-0123", grace));
        assert!(!req("old-shopify-secret-0123", after));
        // Current and previous are the two checks every authentication makes (the test's own
        // signing is one HMAC more).
        let before = crate::signature::HMACS.with(std::cell::Cell::get);
        req("wrong-shopify-secret-01", grace);
        let spent = crate::signature::HMACS.with(std::cell::Cell::get) - before;
        assert_eq!(spent, 1 + CHECKS_PER_AUTHENTICATION);
    }

    #[test]
    fn previous_secret_verifies_only_during_its_grace_period() {
        let mut a = agent("new-secret");
        a.previous_secret = Some(PreviousSecret {
            secret: Secret::new("s3cret"),
            valid_until: OffsetDateTime::UNIX_EPOCH,
        });
        let req = |now| {
            Unverified {
                credential: Credential::signature(SIG, None),
                body: Bytes::from_static(BODY),
            }
            .authenticate(Some(&a), now)
            .is_ok()
        };
        assert!(req(OffsetDateTime::UNIX_EPOCH));
        assert!(!req(OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1)));
    }
}
