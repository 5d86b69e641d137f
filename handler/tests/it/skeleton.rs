//! The walking skeleton's routes, in process.

use axum::body::Body;
use axum::http::Request;
use crewship_core::run::RunStatus;

use crate::common::*;

#[tokio::test]
async fn accepted_webhook_is_recorded_queued_and_enqueued() {
    let app = app();
    let (response, body) = send(&app, trigger_request("c1", "a1", r#"{"event":"e"}"#)).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "accepted");
    let run_id = body["run_id"].as_str().unwrap();
    assert_eq!(
        response.headers()["location"],
        format!("/api/v1/runs/{run_id}")
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(app.memory.queue.len(), 1);

    let (response, run) = send(&app, get(&format!("/api/v1/runs/{run_id}"), TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(run["status"], RunStatus::Queued.as_str());
    assert_eq!(run["trigger_type"], "WEBHOOK");
    assert_eq!(run["chat_id"], "webhook-a1");
    assert_eq!(run["auth_scheme"], "signature");
}

#[tokio::test]
async fn a_run_is_invisible_to_another_workspace() {
    let app = app();
    let (_, body) = send(&app, trigger_request("c1", "a1", "{}")).await;
    let path = format!("/api/v1/runs/{}", body["run_id"].as_str().unwrap());
    let (response, body) = send(&app, get(&path, OTHER_TOKEN)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(body["error"], "not_found");
    let (response, _) = send(&app, get(&path, "bogus")).await;
    assert_eq!(response.status(), 401);
    let unauthenticated = Request::get(&path).body(Body::empty()).unwrap();
    assert_eq!(send(&app, unauthenticated).await.0.status(), 401);
}

#[tokio::test]
async fn routes_are_not_registered_while_a_prerequisite_is_missing() {
    type Remove = fn(&mut handler::HandlerConfig);
    let cases: [(&str, Remove); 4] = [
        ("orchestrator", |c| c.prerequisites.orchestrator = None),
        ("keeper", |c| c.prerequisites.container_runtime = None),
        ("log writer", |c| c.prerequisites.log_writer = None),
        ("internal token", |c| c.internal_token = None),
    ];
    for (name, remove) in cases {
        let mut config = config();
        remove(&mut config);
        assert!(config.missing_prerequisite().is_some(), "{name}");
        let app = app_with(vec![agent("a1", "c1", "ws")], config);
        let (response, body) = send(&app, trigger_request("c1", "a1", "{}")).await;
        assert_eq!(response.status(), 404, "{name}");
        assert_eq!(body["error"], "not_found", "{name}");
        let (response, _) = send(&app, get("/api/v1/agents/a1/runs", TOKEN)).await;
        assert_eq!(response.status(), 404, "{name}");
        assert!(app.memory.queue.is_empty());
    }
}

#[tokio::test]
async fn health_answers_with_the_version() {
    let app = app();
    let (response, body) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body["status"], "ok");
    assert!(body["version"].is_string());
}
