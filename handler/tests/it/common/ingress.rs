//! Building trigger requests for the ingress tests: every signing scheme of `docs/webhooks.md`'s
//! authentication schemes (through the core's [`Signer`]), and a look at the runs the store holds.

use super::Signer;
use axum::body::Body;
use axum::http::Request;
use crewship_core::ids::AgentId;
use crewship_core::run::Run;
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

/// `X-Signature` of `body` with another secret than the fixture's.
pub fn sign_with(secret: &str, body: &[u8]) -> String {
    Signer::new(secret).signature(body)
}

/// `X-Signature` over `"<ts>.<body>"` with the test secret.
pub fn sign_timestamped(ts: &str, body: &[u8]) -> String {
    Signer::new(SECRET).timestamped(ts, body)
}

/// A Standard Webhooks `v1,<base64>` signature of `"<id>.<ts>.<body>"` with `secret`.
pub fn standard_signature(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
    Signer::new(secret).standard_webhooks(id, ts, body)
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
