//! In-process router harness: the real router over in-memory ports and a clock the test sets.

#![allow(dead_code)]

pub mod faults;
pub mod ingress;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use crewship_core::agent::Agent;
use crewship_core::clock::ManualClock;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::secret::Secret;
pub use crewship_core::signer::Signer;
pub use crewship_test_support::AgentBuilder;
pub use crewship_test_support::fixture::{OTHER_TOKEN, SECRET, TOKEN};
use handler::{ApiToken, AppState, HandlerConfig, Prerequisites};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

pub const INTERNAL: &str = "internal-token";
/// Before the legacy header's sunset.
pub const NOW: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

/// An agent of crew `crew` in `workspace`, signed with [`SECRET`].
pub fn agent(id: &str, crew: &str, workspace: &str) -> Agent {
    AgentBuilder::new(id)
        .crew(crew)
        .workspace(workspace)
        .build()
}

pub fn prerequisites() -> Prerequisites {
    Prerequisites {
        orchestrator: Some("memory".into()),
        container_runtime: Some("process".into()),
        log_writer: Some("memory".into()),
    }
}

pub struct App {
    pub router: Router,
    pub memory: MemoryPorts,
    pub clock: Arc<ManualClock>,
}

pub fn config() -> HandlerConfig {
    let mut config = HandlerConfig::new(Some(Secret::new(INTERNAL)), prerequisites());
    config.tokens = vec![
        ApiToken {
            token: Secret::new(TOKEN),
            workspace_id: "ws".parse().unwrap(),
        },
        ApiToken {
            token: Secret::new(OTHER_TOKEN),
            workspace_id: "other".parse().unwrap(),
        },
    ];
    config
}

/// Agents `a1` (crew `c1`, workspace `ws`) and `b1` (crew `c2`, workspace `other`).
pub fn app() -> App {
    app_with(
        vec![agent("a1", "c1", "ws"), agent("b1", "c2", "other")],
        config(),
    )
}

pub fn app_with(agents: Vec<Agent>, config: HandlerConfig) -> App {
    app_with_ports(agents, config, |_| {})
}

/// Like [`app_with`], letting the test replace ports (e.g. with fault-injecting wrappers) before
/// the router is built.
pub fn app_with_ports(
    agents: Vec<Agent>,
    config: HandlerConfig,
    adjust: impl FnOnce(&mut crewship_core::ports::Ports),
) -> App {
    let registry = Arc::new(MemoryRegistry::new(agents));
    let mut memory = MemoryPorts::new(registry, Duration::from_secs(60));
    let clock = Arc::new(ManualClock::new(NOW));
    memory.ports.clock = clock.clone();
    let mut ports = memory.ports.clone();
    adjust(&mut ports);
    let state = AppState::new(ports, config, Some(memory.hub.clone()));
    App {
        router: handler::router(state),
        memory,
        clock,
    }
}

/// `X-Signature` of `body` with [`SECRET`].
pub fn sign(body: &[u8]) -> String {
    Signer::new(SECRET).signature(body)
}

pub fn trigger_request(path_crew: &str, path_agent: &str, body: &str) -> Request<Body> {
    Request::post(format!("/api/v1/webhooks/{path_crew}/{path_agent}/trigger"))
        .header("content-type", "application/json")
        .header("x-signature", sign(body.as_bytes()))
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub async fn send(app: &App, request: Request<Body>) -> (Response<()>, Value) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, ()), json)
}

pub fn get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}
