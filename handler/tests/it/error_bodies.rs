//! Every error of every route is the contract's JSON, and credentials come first (issue 16,
//! item 5): without them, a route answers `401`/`403` whatever its path, query or body hold.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::Value;

/// Credentials a route takes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Auth {
    Internal,
    Bearer,
    Signature,
    None,
}

/// Every route, with `{}` where its path parameter goes.
const ROUTES: &[(&str, &str, Auth)] = &[
    ("POST", "/api/v1/webhooks/c1/{}/trigger", Auth::Signature),
    ("GET", "/api/v1/runs/{}", Auth::Bearer),
    ("POST", "/api/v1/runs/{}/cancel", Auth::Bearer),
    ("GET", "/api/v1/agents/{}/runs", Auth::Bearer),
    ("GET", "/api/v1/agents/{}/logs", Auth::Bearer),
    (
        "POST",
        "/api/v1/agents/{}/webhook-secret/rotate",
        Auth::Bearer,
    ),
    ("PUT", "/api/v1/agents/{}/sources/0/secret", Auth::Bearer),
    ("POST", "/api/v1/runs/{}/replay", Auth::Bearer),
    ("POST", "/api/v1/agents/{}/runs/replay", Auth::Bearer),
    ("GET", "/api/v1/runs/{}/callbacks", Auth::Bearer),
    (
        "GET",
        "/api/v1/internal/agents/{}/webhook-secret",
        Auth::Internal,
    ),
    ("GET", "/api/v1/internal/agents/{}", Auth::Internal),
    ("PUT", "/api/v1/internal/agents/{}", Auth::Internal),
    ("DELETE", "/api/v1/internal/agents/{}", Auth::Internal),
    ("GET", "/api/v1/internal/agents", Auth::Internal),
    ("GET", "/healthz", Auth::None),
];

/// Path parameters and query strings that no extractor can make sense of.
const SEGMENTS: &[&str] = &["a1", "%FF", "%C3%28", "a%00b", "%"];
const QUERIES: &[&str] = &[
    "",
    "?crew_id=c1&crew_id=c2",
    "?limit=1&limit=2",
    "?run_id=%FF",
    "?workspace_id=ws&crew_id=c1",
    "?%FF=%FF",
];
const BODIES: &[&[u8]] = &[b"", b"not json", b"{\"crew_id\":", b"\xff\xfe"];

fn request(method: &str, path: &str, body: &[u8], credentials: bool, auth: Auth) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if credentials {
        builder = match auth {
            Auth::Internal => builder.header("x-internal-token", INTERNAL),
            Auth::Bearer => builder.header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
            Auth::Signature => builder.header("x-signature", sign(body)),
            Auth::None => builder,
        };
    }
    builder
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// Sends and checks that an error answer is `{"error": code, "message": sentence}` as JSON.
async fn send_checked(app: &App, request: Request<Body>) -> (u16, Value) {
    let what = format!("{} {}", request.method(), request.uri());
    let (response, body) = send(app, request).await;
    let status = response.status().as_u16();
    if status >= 400 {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {status} with content type {content_type:?}"
        );
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{what}: {status} {body}"
        );
    }
    (status, body)
}

#[tokio::test]
async fn without_credentials_nothing_but_the_credentials_is_examined() {
    let app = app();
    for &(method, template, auth) in ROUTES {
        if matches!(auth, Auth::None | Auth::Signature) {
            continue;
        }
        for segment in SEGMENTS {
            for query in QUERIES {
                for body in BODIES {
                    let path = format!("{}{query}", template.replace("{}", segment));
                    let (status, answer) =
                        send_checked(&app, request(method, &path, body, false, auth)).await;
                    let expected = if auth == Auth::Internal { 403 } else { 401 };
                    assert_eq!(status, expected, "{method} {path}: {answer}");
                }
            }
        }
    }
}

#[tokio::test]
async fn with_credentials_every_bad_path_query_and_body_is_a_json_error() {
    let app = app();
    for &(method, template, auth) in ROUTES {
        for segment in SEGMENTS {
            for query in QUERIES {
                for body in BODIES {
                    let path = format!("{}{query}", template.replace("{}", segment));
                    let (status, answer) =
                        send_checked(&app, request(method, &path, body, true, auth)).await;
                    assert!(status < 500, "{method} {path}: {status} {answer}");
                }
            }
        }
    }
}

#[tokio::test]
async fn internal_routes_answer_403_before_an_undecodable_agent_id() {
    let app = app();
    for method in ["GET", "PUT", "DELETE"] {
        let (status, body) = send_checked(
            &app,
            request(
                method,
                "/api/v1/internal/agents/%FF",
                b"",
                false,
                Auth::Internal,
            ),
        )
        .await;
        assert_eq!(status, 403, "{method}");
        assert_eq!(body["error"], "forbidden");
    }
}

#[tokio::test]
async fn management_routes_reject_bad_paths_and_queries_as_json() {
    let app = app();
    let cases = [
        (
            "PUT",
            "/api/v1/internal/agents/%FF",
            Auth::Internal,
            "invalid_path",
        ),
        (
            "GET",
            "/api/v1/internal/agents/%FF",
            Auth::Internal,
            "invalid_path",
        ),
        (
            "DELETE",
            "/api/v1/internal/agents/%FF",
            Auth::Internal,
            "invalid_path",
        ),
        (
            "GET",
            "/api/v1/internal/agents?crew_id=c1&crew_id=c2",
            Auth::Internal,
            "invalid_query",
        ),
        (
            "POST",
            "/api/v1/agents/%FF/webhook-secret/rotate",
            Auth::Bearer,
            "invalid_path",
        ),
    ];
    for (method, path, auth, code) in cases {
        let (status, body) = send_checked(&app, request(method, path, b"", true, auth)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(code)),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths_are_json_too() {
    let app = app();
    for &(_, template, auth) in ROUTES {
        let path = template.replace("{}", "a1");
        for method in [Method::PATCH, Method::OPTIONS] {
            let (status, _) =
                send_checked(&app, request(method.as_str(), &path, b"", true, auth)).await;
            assert_eq!(status, 405, "{method} {path}");
        }
    }
    let (status, _) = send_checked(&app, get("/api/v1/nothing", TOKEN)).await;
    assert_eq!(status, 404);
    let (status, _) = send_checked(&app, get("/ws", TOKEN)).await;
    assert!(status >= 400);
}
