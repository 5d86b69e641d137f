//! `docs/webhooks.md` steps 2–4 and 8–9: method, body size, credentials present, content type,
//! payload.

use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;

use crate::common::ingress::*;
use crate::common::*;

#[tokio::test]
async fn other_methods_get_405_with_allow_post_and_a_json_body() {
    let app = app();
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let request = Request::builder()
            .method(method)
            .uri("/api/v1/webhooks/c1/a1/trigger")
            .body(Body::empty())
            .unwrap();
        let (response, body) = send(&app, request).await;
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST", "{method}");
        assert_eq!(body["error"], "method_not_allowed", "{method}");
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn declared_content_length_over_the_limit_is_413() {
    let mut config = config();
    config.body_limit_bytes = 100;
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let body = format!(r#"{{"data":"{}"}}"#, "x".repeat(200));
    let mut request = trigger_request("c1", "a1", &body);
    request
        .headers_mut()
        .insert("content-length", body.len().to_string().parse().unwrap());
    let (response, json) = send(&app, request).await;
    assert_eq!(response.status(), 413, "{json}");
    assert_eq!(json["error"], "payload_too_large");
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn streamed_body_growing_past_the_limit_is_413_not_truncated() {
    let mut config = config();
    config.body_limit_bytes = 100;
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    // Chunks without a Content-Length: the limit is found only while reading.
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..10)
        .map(|_| Ok(Bytes::from_static(b"{\"data\":\"xxxxxxxxxxxxx\"}")))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let request = post(
        "c1",
        "a1",
        &[
            ("content-type", "application/json"),
            ("x-signature", &sign(b"{}")),
        ],
        body,
    );
    assert!(request.headers().get("content-length").is_none());
    let (response, json) = send(&app, request).await;
    assert_eq!(response.status(), 413, "{json}");
    assert_eq!(json["error"], "payload_too_large");
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn a_body_at_exactly_the_limit_is_accepted() {
    let mut config = config();
    config.body_limit_bytes = 100;
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let body = format!(r#"{{"data":"{}"}}"#, "x".repeat(100 - 11));
    assert_eq!(body.len(), 100);
    let (response, json) = send(&app, trigger_request("c1", "a1", &body)).await;
    assert_eq!(response.status(), 202, "{json}");
}

#[tokio::test]
async fn no_credentials_is_401_missing_credentials() {
    let app = app();
    let request = post("c1", "a1", &[("content-type", "application/json")], "{}");
    let (response, body) = send(&app, request).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "missing_credentials");
    assert!(body["message"].as_str().unwrap().contains("X-Signature"));
}

#[tokio::test]
async fn empty_header_values_count_as_absent() {
    let app = app();
    let headers = [
        ("content-type", "application/json"),
        ("x-signature", ""),
        ("x-hub-signature-256", ""),
        ("webhook-signature", ""),
        ("x-webhook-secret", ""),
    ];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "missing_credentials");

    // An empty X-Signature does not hide the header after it, and an empty X-Timestamp is no
    // timestamp (so the signature over the bare body verifies).
    let sig = sign(b"{}");
    let headers = [
        ("content-type", "application/json"),
        ("x-signature", ""),
        ("x-hub-signature-256", &*format!("sha256={sig}")),
    ];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202, "{body}");
    let headers = [
        ("content-type", "application/json"),
        ("x-signature", &*sig),
        ("x-timestamp", ""),
    ];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202, "{body}");
}

#[tokio::test]
async fn non_json_content_type_is_415_naming_the_expected_type() {
    let app = app();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let sig = sign(b"{}");
        let mut headers = vec![("x-signature", sig.as_str())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
        assert_eq!(response.status(), 415, "{content_type:?}");
        assert_eq!(body["error"], "unsupported_media_type");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn json_content_types_with_parameters_and_suffixes_are_accepted() {
    let app = app();
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.foo+json; charset=utf-8",
        "application/cloudevents+json",
    ] {
        let body = format!(r#"{{"event":"{content_type}"}}"#);
        let sig = sign(body.as_bytes());
        let headers = [
            ("x-signature", sig.as_str()),
            ("content-type", content_type),
        ];
        let (response, json) = send(&app, post("c1", "a1", &headers, body.clone())).await;
        assert_eq!(response.status(), 202, "{content_type}: {json}");
    }
}

#[tokio::test]
async fn an_empty_body_needs_no_content_type_and_is_the_empty_object() {
    let app = app();
    let sig = sign(b"");
    let (response, json) = send(&app, post("c1", "a1", &[("x-signature", &sig)], "")).await;
    assert_eq!(response.status(), 202, "{json}");
    let runs = runs_of(&app, "a1").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].event, "webhook");
    assert_eq!(runs[0].source, "unknown");
}

#[tokio::test]
async fn malformed_payloads_are_400_invalid_payload() {
    let app = app();
    for body in [
        "{",
        "not json",
        r#"{"a":1} trailing"#,
        r#"{"a":1}{"b":2}"#,
        "[1,2]",
        "\"string\"",
        "42",
        "null",
        r#"{"event":42}"#,
        r#"{"source":["x"]}"#,
        r#"{"event":{"a":1}}"#,
    ] {
        let (response, json) = send(&app, trigger_request("c1", "a1", body)).await;
        assert_eq!(response.status(), 400, "{body}: {json}");
        assert_eq!(json["error"], "invalid_payload", "{body}");
        assert!(!json["message"].as_str().unwrap().is_empty());
    }
    assert!(runs_of(&app, "a1").await.is_empty());
    // Null event/source count as absent.
    let (response, json) = send(
        &app,
        trigger_request("c1", "a1", r#"{"event":null,"source":null}"#),
    )
    .await;
    assert_eq!(response.status(), 202, "{json}");
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_gets_a_json_401() {
    let app = app();
    let request = Request::post("/api/v1/webhooks/c1/%FF%FE/trigger")
        .header("content-type", "application/json")
        .header("x-signature", sign(b"{}"))
        .body(Body::from("{}"))
        .unwrap();
    let (response, body) = send(&app, request).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "invalid_credentials");
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let mut config = config();
    config.body_limit_bytes = 10;
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let big = r#"{"data":"0123456789"}"#;
    // Size (3) before credentials (4).
    let (response, _) = send(
        &app,
        post("c1", "a1", &[("content-type", "text/plain")], big),
    )
    .await;
    assert_eq!(response.status(), 413);
    // Credentials (4) before content type (8).
    let (response, _) = send(
        &app,
        post("c1", "a1", &[("content-type", "text/plain")], "{}"),
    )
    .await;
    assert_eq!(response.status(), 401);
    // Timestamp (5) before authentication (6).
    let headers = [("x-signature", "00"), ("x-timestamp", "nope")];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(
        (response.status().as_u16(), body["error"].as_str()),
        (400, Some("invalid_timestamp"))
    );
    // Authentication (6) before content type (8) and payload (9).
    let headers = [("x-signature", "00"), ("content-type", "text/plain")];
    let (response, _) = send(&app, post("c1", "a1", &headers, "[")).await;
    assert_eq!(response.status(), 401);
    // Content type (8) before payload (9).
    let sig = sign(b"[");
    let headers = [
        ("x-signature", sig.as_str()),
        ("content-type", "text/plain"),
    ];
    let (response, _) = send(&app, post("c1", "a1", &headers, "[")).await;
    assert_eq!(response.status(), 415);
}
