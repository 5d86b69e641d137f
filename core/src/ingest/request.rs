//! A trigger request as the use case sees it: the path's ids, the body, and every header it
//! reads, taken from the transport once (the handler fills it from its `HeaderMap`).

use bytes::Bytes;

use crate::auth::Credential;
use crate::payload::SenderHints;
use crate::secret::Secret;

/// What the credential headers presented (`docs/webhooks.md`, Authentication schemes), before
/// anything was checked.
#[derive(Debug, Clone)]
pub enum Presented {
    /// None of the authentication headers.
    Nothing,
    /// `webhook-signature` without `webhook-id` or `webhook-timestamp`.
    IncompleteStandardWebhooks,
    /// The one credential to check, chosen by precedence.
    Credential(Credential),
}

/// The credential headers' raw values, `None` when absent or empty. Values that are not visible
/// ASCII are kept (lossily decoded), so a malformed header still counts as present: it then
/// fails verification instead of letting a lower-precedence header be checked in its place.
#[derive(Debug, Default, Clone)]
pub struct CredentialHeaders {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub hub_signature_256: Option<String>,
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    /// `X-Webhook-Secret`; its `Debug` never shows the value.
    pub webhook_secret: Option<Secret>,
    /// The other senders' headers (`docs/senders/`), checked after the agent's own schemes.
    pub senders: SenderHeaders,
}

/// The headers of the senders an agent's `sources` take (`docs/senders/`). Plaintext tokens
/// are [`Secret`]s, so a `Debug` shows none of them.
#[derive(Debug, Default, Clone)]
pub struct SenderHeaders {
    pub stripe_signature: Option<String>,
    pub slack_signature: Option<String>,
    pub slack_timestamp: Option<String>,
    pub svix_id: Option<String>,
    pub svix_timestamp: Option<String>,
    pub svix_signature: Option<String>,
    pub grafana_signature: Option<String>,
    pub grafana_timestamp: Option<String>,
    pub shopify_hmac: Option<String>,
    pub linear_signature: Option<String>,
    pub gitlab_token: Option<Secret>,
    /// The token of `Authorization: Bearer <token>`.
    pub bearer: Option<Secret>,
}

impl SenderHeaders {
    /// The first present, in the order of the fields. An incomplete set (a Slack signature
    /// without its timestamp, a Svix signature without id or timestamp) still counts as
    /// presented: it fails verification instead of letting a lower one be checked.
    fn select(self) -> Option<Credential> {
        if let Some(sig) = self.stripe_signature {
            return Some(Credential::stripe(&sig));
        }
        if let Some(sig) = self.slack_signature {
            return Some(Credential::slack(
                &sig,
                self.slack_timestamp.as_deref().unwrap_or(""),
            ));
        }
        if let Some(sigs) = self.svix_signature {
            let id = self.svix_id.unwrap_or_default();
            let ts = self.svix_timestamp.unwrap_or_default();
            return Some(Credential::svix(&id, &ts, &sigs));
        }
        if let Some(sig) = self.grafana_signature {
            return Some(Credential::grafana(&sig, self.grafana_timestamp.as_deref()));
        }
        if let Some(sig) = self.shopify_hmac {
            return Some(Credential::shopify(&sig));
        }
        if let Some(sig) = self.linear_signature {
            return Some(Credential::linear(&sig));
        }
        if let Some(token) = self.gitlab_token {
            return Some(Credential::GitLab(token));
        }
        self.bearer.map(Credential::Bearer)
    }
}

impl CredentialHeaders {
    /// The first present of `X-Signature`, `X-Hub-Signature-256`, `webhook-signature`,
    /// `X-Webhook-Secret`, then the other senders' headers, alone.
    ///
    /// Every HMAC scheme is keyed by the bytes of the agent's secret string. Standard Webhooks
    /// libraries take that key written as `whsec_` + base64(secret bytes); docs/webhooks.md
    /// says so.
    pub fn select(self) -> Presented {
        if let Some(sig) = self.signature {
            return Presented::Credential(Credential::signature(&sig, self.timestamp.as_deref()));
        }
        if let Some(sig) = self.hub_signature_256 {
            return Presented::Credential(Credential::github(&sig));
        }
        if let Some(sigs) = self.webhook_signature {
            return match (self.webhook_id, self.webhook_timestamp) {
                (Some(id), Some(ts)) => {
                    Presented::Credential(Credential::standard_webhooks(&id, &ts, &sigs))
                }
                _ => Presented::IncompleteStandardWebhooks,
            };
        }
        if let Some(secret) = self.webhook_secret {
            return Presented::Credential(Credential::LegacySecret(secret));
        }
        match self.senders.select() {
            Some(credential) => Presented::Credential(credential),
            None => Presented::Nothing,
        }
    }
}

/// Everything the trigger use case reads from one request.
#[derive(Debug, Clone)]
pub struct TriggerRequest {
    /// The path's crew and agent segments as sent; ids that cannot exist name no agent.
    pub crew: String,
    pub agent: String,
    pub credential: Presented,
    /// `Content-Type`, if present.
    pub content_type: Option<String>,
    /// The first present of `Idempotency-Key`, `webhook-id`, `X-GitHub-Delivery`,
    /// `X-Delivery-Id` (`docs/webhooks.md`, Deduplication).
    pub delivery_id: Option<String>,
    /// `X-GitHub-Event`, `X-Gitlab-Event`: event and source of a raw-form body (`docs/webhooks.md`,
    /// The payload).
    pub github_event: Option<String>,
    pub gitlab_event: Option<String>,
    /// `X-Shopify-Topic`: the event of a request a `shopify` source verified.
    pub shopify_topic: Option<String>,
    /// The raw body, exactly as received (already bounded by the transport's size limit).
    pub body: Bytes,
}

impl TriggerRequest {
    pub(crate) fn sender_hints(&self) -> SenderHints<'_> {
        SenderHints {
            github_event: self.github_event.as_deref(),
            gitlab_event: self.gitlab_event.as_deref(),
        }
    }

    /// `Content-Type: application/x-www-form-urlencoded` (GitHub's form content type).
    pub(crate) fn declares_form(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    }

    /// `docs/webhooks.md` step 8: a non-empty `body` (the verified one: authentication took it out
    /// of the request) must be declared `application/json` or `*/*+json`
    /// (parameters such as charset allowed); an empty body needs no type.
    pub(crate) fn declares_json(&self, body: &[u8]) -> bool {
        if body.is_empty() {
            return true;
        }
        let essence = self.content_type.as_deref().map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        essence.as_deref().is_some_and(|e| {
            e == "application/json"
                || e.split_once('/')
                    .is_some_and(|(_, sub)| sub.ends_with("+json"))
        })
    }
}
