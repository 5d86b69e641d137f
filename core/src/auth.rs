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

/// The credential a request presented, chosen by the precedence of `docs/webhooks.md`'s
/// Authentication schemes. Malformed values are kept as "matches nothing" rather than rejected
/// early, so every failure looks the same.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `X-Signature`, optionally with `X-Timestamp`.
    Signature {
        tag: Option<Tag>,
        timestamp: Option<String>,
    },
    /// `X-Hub-Signature-256: sha256=<hex>`.
    GitHub { tag: Option<Tag> },
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …`.
    StandardWebhooks {
        id: String,
        timestamp: String,
        tags: Vec<Tag>,
    },
    /// `X-Webhook-Secret`, the plaintext secret. Its `Debug` never shows the value.
    LegacySecret(Secret),
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
        let b64 = base64::engine::general_purpose::STANDARD;
        let tags = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| b64.decode(s).ok())
            .filter_map(|v| Tag::try_from(v.as_slice()).ok())
            .collect();
        Self::StandardWebhooks {
            id: id.to_owned(),
            timestamp: timestamp.to_owned(),
            tags,
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
        }
    }

    /// The timestamp the scheme signs, to be checked before the agent is looked up.
    pub fn timestamp(&self) -> Option<&str> {
        match self {
            Self::Signature { timestamp, .. } => timestamp.as_deref(),
            Self::StandardWebhooks { timestamp, .. } => Some(timestamp),
            _ => None,
        }
    }

    /// Checks the credential against one secret; on success returns the tag that matched
    /// (`None` for the plaintext scheme, which has no tag).
    fn check(&self, secret: &Secret, body: &[u8]) -> Result<Option<Tag>, ()> {
        let key = secret.expose().as_bytes();
        match self {
            Self::Signature { tag, timestamp } => {
                let expected = match timestamp {
                    Some(ts) => hmac_sha256(key, &[ts.as_bytes(), b".", body]),
                    None => hmac_sha256(key, &[body]),
                };
                match tag {
                    Some(tag) if !secret.is_empty() && tags_equal(tag, &expected) => Ok(Some(*tag)),
                    _ => Err(()),
                }
            }
            Self::GitHub { tag } => {
                let expected = hmac_sha256(key, &[body]);
                match tag {
                    Some(tag) if !secret.is_empty() && tags_equal(tag, &expected) => Ok(Some(*tag)),
                    _ => Err(()),
                }
            }
            Self::StandardWebhooks {
                id,
                timestamp,
                tags,
            } => {
                let expected = hmac_sha256(
                    key,
                    &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
                );
                // Every candidate is compared, so timing does not reveal which one matched.
                let mut matched = None;
                for tag in tags {
                    if tags_equal(tag, &expected) {
                        matched = Some(*tag);
                    }
                }
                matched.filter(|_| !secret.is_empty()).map(Some).ok_or(())
            }
            Self::LegacySecret(presented) => {
                if secret.matches(presented.expose().as_bytes()) {
                    Ok(None)
                } else {
                    Err(())
                }
            }
        }
    }
}

/// A request whose credential has not been checked yet.
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
        if let Some(agent) = agent {
            for secret in agent.verifying_secrets(now) {
                tried += 1;
                if let Ok(tag) = self.credential.check(secret, &self.body) {
                    matched = Some(tag);
                }
            }
        }
        let decoy = Secret::new(DECOY_SECRET);
        for _ in tried..CHECKS_PER_AUTHENTICATION {
            let _ = std::hint::black_box(self.credential.check(&decoy, &self.body));
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::agent::{Adapter, PreviousSecret};

    fn agent(secret: &str) -> Agent {
        Agent {
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
            isolation: Default::default(),
        }
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
