//! Reading the request's headers into a credential (SPEC §1.1, §1.2), a delivery id (§1.4) and
//! sender hints (§1.3). A header with an empty value counts as absent.

use axum::http::HeaderMap;
use crewship_core::auth::Credential;
use crewship_core::payload::SenderHints;
use crewship_core::secret::Secret;

use crate::error::ApiError;

/// The value of a header, `None` when absent, empty or not visible ASCII.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// A credential header's value, `None` only when absent or empty. Bytes that are not visible
/// ASCII are kept (lossily decoded) so that a malformed header still counts as present: it then
/// fails verification instead of letting a lower-precedence header be checked in its place.
fn credential_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The credential to check: the first present of `X-Signature`, `X-Hub-Signature-256`,
/// `webhook-signature`, `X-Webhook-Secret`, alone. `Ok(None)` when there is none.
///
/// Every HMAC scheme is keyed by the bytes of the agent's secret string. Standard Webhooks
/// libraries take that key written as `whsec_` + base64(secret bytes); docs/webhooks.md says so.
pub fn select(headers: &HeaderMap) -> Result<Option<Credential>, ApiError> {
    if let Some(sig) = credential_header(headers, "x-signature") {
        let timestamp = credential_header(headers, "x-timestamp");
        return Ok(Some(Credential::signature(&sig, timestamp.as_deref())));
    }
    if let Some(sig) = credential_header(headers, "x-hub-signature-256") {
        return Ok(Some(Credential::github(&sig)));
    }
    if let Some(sigs) = credential_header(headers, "webhook-signature") {
        let (Some(id), Some(ts)) = (
            credential_header(headers, "webhook-id"),
            credential_header(headers, "webhook-timestamp"),
        ) else {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "Standard Webhooks signatures need all three headers: webhook-id, \
                 webhook-timestamp and webhook-signature",
            ));
        };
        return Ok(Some(Credential::standard_webhooks(&id, &ts, &sigs)));
    }
    if let Some(secret) = credential_header(headers, "x-webhook-secret") {
        return Ok(Some(Credential::LegacySecret(Secret::new(secret))));
    }
    Ok(None)
}

/// The sender's delivery id: the first present of `Idempotency-Key`, `webhook-id`,
/// `X-GitHub-Delivery`, `X-Delivery-Id`.
pub fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    [
        "idempotency-key",
        "webhook-id",
        "x-github-delivery",
        "x-delivery-id",
    ]
    .into_iter()
    .find_map(|name| header(headers, name))
}

pub fn sender_hints(headers: &HeaderMap) -> SenderHints<'_> {
    SenderHints {
        github_event: header(headers, "x-github-event"),
        gitlab_event: header(headers, "x-gitlab-event"),
    }
}
