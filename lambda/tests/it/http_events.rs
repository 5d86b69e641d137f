//! API Gateway HTTP API (v2) events pushed through `lambda_http` into the router give the same
//! answers as the same requests sent to the router directly, and bodies (base64 or not,
//! non-ASCII included) reach the signature check as the exact bytes the sender signed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use base64::Engine;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::run::RunStatus;
use crewship_core::secret::Secret;
use crewship_core::store::RunFilter;
use crewship_test_support::AgentBuilder;
use handler::{AppState, HandlerConfig, Prerequisites};
use http_body_util::BodyExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &str = "lambda-fixture-secret-0123456789abcdef";

fn app() -> (Router, MemoryPorts) {
    let agent = AgentBuilder::new("agent").secret(SECRET).build();
    let memory = MemoryPorts::new(
        Arc::new(MemoryRegistry::new([agent])),
        Duration::from_secs(60),
    );
    let prerequisites = Prerequisites {
        orchestrator: Some("memory".into()),
        container_runtime: Some("process".into()),
        log_writer: Some("memory".into()),
    };
    let config = HandlerConfig::new(Some(Secret::new("internal")), prerequisites);
    let state = AppState::new(memory.ports.clone(), config, None);
    (handler::router(state), memory)
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (status, body) from the event sent through lambda_http's adapter.
async fn via_lambda(router: Router, event: &Value) -> (u16, Value) {
    let request: LambdaRequest = serde_json::from_value(event.clone()).unwrap();
    let mut adapter = lambda_http::Adapter::from(router);
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    let response = serde_json::to_value(response).unwrap();
    let body = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    } else {
        body.to_owned()
    };
    (
        response["statusCode"].as_u64().unwrap() as u16,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// The same request built by hand and sent to the router directly.
async fn direct(router: Router, event: &Value) -> (u16, Value) {
    let method = event["requestContext"]["http"]["method"].as_str().unwrap();
    let mut builder = axum::http::Request::builder()
        .method(method)
        .uri(event["rawPath"].as_str().unwrap());
    for (name, value) in event["headers"].as_object().unwrap() {
        builder = builder.header(name, value.as_str().unwrap());
    }
    let body = match event["body"].as_str() {
        None => Vec::new(),
        Some(b) if event["isBase64Encoded"] == true => {
            base64::engine::general_purpose::STANDARD.decode(b).unwrap()
        }
        Some(b) => b.as_bytes().to_vec(),
    };
    let response = router
        .oneshot(builder.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn stored_payloads(memory: &MemoryPorts) -> Vec<(String, String, RunStatus)> {
    memory
        .ports
        .runs
        .list_by_agent(&"agent".parse().unwrap(), &RunFilter::default(), 100, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.payload.get().to_owned(), r.event, r.status))
        .collect()
}

#[tokio::test]
async fn lambda_events_get_the_same_answers_as_direct_requests() {
    for name in [
        "trigger-plain.json",
        "trigger-base64-non-ascii.json",
        "trigger-plain-non-ascii.json",
        "trigger-bad-signature.json",
        "healthz.json",
    ] {
        let event = fixture(name);
        let (lambda_router, lambda_memory) = app();
        let (direct_router, direct_memory) = app();
        let (lambda_status, lambda_body) = via_lambda(lambda_router, &event).await;
        let (direct_status, direct_body) = direct(direct_router, &event).await;
        assert_eq!(
            lambda_status, direct_status,
            "{name}: {lambda_body} vs {direct_body}"
        );
        if lambda_status == 202 {
            assert_eq!(lambda_body["status"], "accepted", "{name}");
            assert!(lambda_body["run_id"].as_str().unwrap().starts_with("run_"));
        } else {
            assert_eq!(lambda_body, direct_body, "{name}");
        }
        assert_eq!(
            stored_payloads(&lambda_memory).await,
            stored_payloads(&direct_memory).await,
            "{name}"
        );
    }
}

#[tokio::test]
async fn base64_bodies_with_non_ascii_bytes_verify_and_are_stored_exactly() {
    let (router, memory) = app();
    let event = fixture("trigger-base64-non-ascii.json");
    let (status, body) = via_lambda(router, &event).await;
    assert_eq!(status, 202, "{body}");
    let runs = stored_payloads(&memory).await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].0.contains("ünïcødé — 日本語 ✓"), "{}", runs[0].0);
    assert_eq!(runs[0].1, "comment");
    assert_eq!(runs[0].2, RunStatus::Queued);
}

#[tokio::test]
async fn a_bad_signature_is_refused_through_lambda_too() {
    let (router, memory) = app();
    let (status, body) = via_lambda(router, &fixture("trigger-bad-signature.json")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_credentials");
    assert!(stored_payloads(&memory).await.is_empty());
}
