//! Reading a trigger request off HTTP, once: the path's ids, the headers the use case reads
//! (`docs/webhooks.md`: authentication, payload, deduplication) and the body, into
//! [`TriggerRequest`]. A header with an empty value counts as absent.

use axum::http::HeaderMap;
use bytes::Bytes;
use crewship_core::ingest::{CredentialHeaders, SenderHeaders, TriggerRequest};
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
/// `X-GitHub-Delivery`, `X-Delivery-Id`, `svix-id`, `X-Gitlab-Event-UUID`,
/// `X-Shopify-Webhook-Id` (senders whose id is in the body get it from there).
fn delivery_id(headers: &HeaderMap) -> Option<String> {
    [
        "idempotency-key",
        "webhook-id",
        "x-github-delivery",
        "x-delivery-id",
        "svix-id",
        "x-gitlab-event-uuid",
        "x-shopify-webhook-id",
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
        senders: SenderHeaders {
            stripe_signature: credential_header(headers, "stripe-signature"),
            slack_signature: credential_header(headers, "x-slack-signature"),
            slack_timestamp: credential_header(headers, "x-slack-request-timestamp"),
            svix_id: credential_header(headers, "svix-id"),
            svix_timestamp: credential_header(headers, "svix-timestamp"),
            svix_signature: credential_header(headers, "svix-signature"),
            grafana_signature: credential_header(headers, "x-grafana-alerting-signature"),
            grafana_timestamp: credential_header(headers, "x-grafana-alerting-timestamp"),
            shopify_hmac: credential_header(headers, "x-shopify-hmac-sha256"),
            linear_signature: credential_header(headers, "linear-signature"),
            gitlab_token: credential_header(headers, "x-gitlab-token").map(Secret::new),
            bearer: credential_header(headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer ").map(Secret::new)),
        },
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
        shopify_topic: header(headers, "x-shopify-topic"),
        body,
    }
}
