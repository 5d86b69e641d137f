//! In-process router harness: the real router over in-memory ports and a clock the test sets.

#![allow(dead_code)]

pub mod faults;
pub mod ingress;
pub mod ws_conformance;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use crewship_core::agent::{Adapter, Agent};
use crewship_core::clock::ManualClock;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::secret::Secret;
use handler::{ApiToken, AppState, HandlerConfig, Prerequisites};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "token-ws";
pub const OTHER_TOKEN: &str = "token-other";
pub const INTERNAL: &str = "internal-token";
/// Before the legacy header's sunset.
pub const NOW: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

pub fn agent(id: &str, crew: &str, workspace: &str) -> Agent {
    Agent {
        id: id.parse().unwrap(),
        crew_id: crew.parse().unwrap(),
        workspace_id: workspace.parse().unwrap(),
        name: id.into(),
        adapter: Adapter::Command,
        command: vec!["true".into()],
        model: None,
        env: BTreeMap::new(),
        webhook_secret: Some(Secret::new(SECRET)),
        previous_secret: None,
        require_timestamp: false,
        timeout_secs: None,
        rate_limit_per_min: 600,
        max_queued_runs: 1000,
        max_concurrent_runs: 1,
    }
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

pub fn sign(body: &[u8]) -> String {
    hex::encode(crewship_core::signature::hmac_sha256(
        SECRET.as_bytes(),
        &[body],
    ))
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
