//! Reading a trigger request off HTTP, once: the path's ids, the headers the use case reads
//! (`docs/webhooks.md`: authentication, payload, deduplication) and the body, into
//! [`TriggerRequest`]. A header with an empty value counts as absent.

use axum::http::HeaderMap;
use bytes::Bytes;
use crewship_core::ingest::{CredentialHeaders, TriggerRequest};
use crewship_core::secret::Secret;

/// The value of a header, `None` when absent, empty or not visible ASCII.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A credential header's value, `None` only when absent or empty. Bytes that are not visible
/// ASCII are kept (lossily decoded) so that a malformed header still counts as present.
fn credential_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The sender's delivery id: the first present of `Idempotency-Key`, `webhook-id`,
/// `X-GitHub-Delivery`, `X-Delivery-Id`.
fn delivery_id(headers: &HeaderMap) -> Option<String> {
    [
        "idempotency-key",
        "webhook-id",
        "x-github-delivery",
        "x-delivery-id",
    ]
    .into_iter()
    .find_map(|name| header(headers, name))
}

pub fn read(crew: String, agent: String, headers: &HeaderMap, body: Bytes) -> TriggerRequest {
    let credential = CredentialHeaders {
        signature: credential_header(headers, "x-signature"),
        timestamp: credential_header(headers, "x-timestamp"),
        hub_signature_256: credential_header(headers, "x-hub-signature-256"),
        webhook_id: credential_header(headers, "webhook-id"),
        webhook_timestamp: credential_header(headers, "webhook-timestamp"),
        webhook_signature: credential_header(headers, "webhook-signature"),
        webhook_secret: credential_header(headers, "x-webhook-secret").map(Secret::new),
    }
    .select();
    TriggerRequest {
        crew,
        agent,
        credential,
        content_type: header(headers, "content-type"),
        delivery_id: delivery_id(headers),
        github_event: header(headers, "x-github-event"),
        gitlab_event: header(headers, "x-gitlab-event"),
        body,
    }
}
