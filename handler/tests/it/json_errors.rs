//! "Every error body of every endpoint is JSON", also when the URL itself cannot be decoded.

use axum::body::Body;
use axum::http::Request;

use crate::common::*;

#[tokio::test]
async fn undecodable_path_segments_get_json_errors_on_every_route() {
    let app = app();
    let cases = [
        get("/api/v1/runs/%FF", TOKEN),
        get("/api/v1/agents/%FF/runs", TOKEN),
        get("/api/v1/agents/%FF/logs", TOKEN),
        Request::post("/api/v1/runs/%FF/cancel")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
        Request::get("/api/v1/internal/agents/%FF/webhook-secret")
            .header("x-internal-token", INTERNAL)
            .body(Body::empty())
            .unwrap(),
    ];
    for request in cases {
        let uri = request.uri().clone();
        let (response, body) = send(&app, request).await;
        assert_eq!(response.status(), 400, "{uri}");
        assert_eq!(body["error"], "invalid_path", "{uri}");
        assert!(body["message"].is_string(), "{uri}");
    }
}

#[tokio::test]
async fn undecodable_query_strings_get_json_errors() {
    let app = app();
    let (response, body) = send(&app, get("/api/v1/agents/a1/runs?limit=1&limit=2", TOKEN)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body["error"], "invalid_query");
}
