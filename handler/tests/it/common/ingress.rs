//! Building trigger requests for the ingress tests: every signing scheme of SPEC §1.1 and §1.2,
//! and a look at the runs the store holds.

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use crewship_core::ids::AgentId;
use crewship_core::run::Run;
use crewship_core::signature::hmac_sha256;
use crewship_core::store::{RunFilter, RunStore};

use super::{App, SECRET};

/// A trigger request with the given headers and body (nothing added).
pub fn post(
    crew: &str,
    agent: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::post(format!("/api/v1/webhooks/{crew}/{agent}/trigger"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// Hex HMAC-SHA256 of the concatenated parts, keyed by `secret`.
pub fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), parts))
}

/// `X-Signature` over `"<ts>.<body>"` with the test secret.
pub fn sign_timestamped(ts: &str, body: &[u8]) -> String {
    hmac_hex(SECRET, &[ts.as_bytes(), b".", body])
}

/// A Standard Webhooks `v1,<base64>` signature of `"<id>.<ts>.<body>"` with `secret`.
pub fn standard_signature(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
    let tag = hmac_sha256(
        secret.as_bytes(),
        &[id.as_bytes(), b".", ts.as_bytes(), b".", body],
    );
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

/// The clock's current Unix time, as a sender would put it in a timestamp header.
pub fn unix_now(app: &App) -> String {
    use crewship_core::clock::Clock;
    app.clock.now().unix_timestamp().to_string()
}

/// Every run the store holds for `agent`.
pub async fn runs_of(app: &App, agent: &str) -> Vec<Run> {
    let agent: AgentId = agent.parse().unwrap();
    app.memory
        .store
        .list_by_agent(&agent, &RunFilter::default(), 10_000, None)
        .await
        .unwrap()
        .items
}
