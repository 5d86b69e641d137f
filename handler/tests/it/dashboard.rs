//! The dashboard's HTTP side, in process: the redirect to `/ui/`, the embedded assets and the
//! security headers on every UI answer, and `GET /api/v1/agents` (the token's workspace only).
//! The page's behaviour in a real browser is tested in `tests/tests/it/dashboard/`.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use handler::{AppState, HandlerConfig};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn fetch(router: &axum::Router, path: &str) -> (axum::http::response::Parts, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts, String::from_utf8(bytes.to_vec()).unwrap())
}

fn header<'a>(parts: &'a axum::http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn root_and_ui_without_slash_redirect_to_the_dashboard() {
    let app = app();
    for path in ["/", "/ui"] {
        let (parts, _) = fetch(&app.router, path).await;
        assert_eq!(parts.status, 303, "{path}");
        assert_eq!(header(&parts, "location"), "/ui/", "{path}");
    }
}

#[tokio::test]
async fn every_ui_answer_carries_the_security_headers() {
    let app = app();
    let mut paths: Vec<String> = vec!["/ui/".into()];
    paths.extend(
        handler::ui::assets::FILES
            .iter()
            .map(|(name, _, _)| format!("/ui/{name}")),
    );
    assert!(paths.len() >= 4, "{paths:?}");
    for path in &paths {
        let (parts, body) = fetch(&app.router, path).await;
        assert_eq!(parts.status, 200, "{path}");
        let content_type = header(&parts, "content-type");
        let expected = match path.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "text/html",
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        assert!(!body.is_empty(), "{path}");
        let csp = header(&parts, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: CSP lacks {directive}: {csp}"
            );
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&parts, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&parts, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(
            header(&parts, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
    }
    let (_, html) = fetch(&app.router, "/ui/").await;
    assert!(
        html.contains(r#"<script type="module" src="app.js">"#),
        "{html}"
    );
}

#[tokio::test]
async fn the_page_has_no_inline_script_or_style_and_loads_nothing_foreign() {
    let app = app();
    let (_, html) = fetch(&app.router, "/ui/").await;
    // With `script-src 'self'` an inline script would be blocked: the page must not need one.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains("style="));
    for (name, _, body) in handler::ui::assets::FILES {
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"),
            "{name} refers to another origin"
        );
        if name.ends_with(".js") {
            // Data reaches the page as text nodes only.
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!body.contains(sink), "{name} uses {sink}");
            }
        }
    }
}

#[tokio::test]
async fn the_dashboard_is_served_even_when_a_prerequisite_is_missing() {
    let memory = crewship_core::ports::MemoryPorts::new(
        std::sync::Arc::new(crewship_core::registry::MemoryRegistry::new(vec![])),
        std::time::Duration::from_secs(60),
    );
    let mut prerequisites = prerequisites();
    prerequisites.orchestrator = None;
    let state = AppState::new(
        memory.ports.clone(),
        HandlerConfig::new(None, prerequisites),
        None,
    );
    let router = handler::router(state);
    let (parts, _) = fetch(&router, "/ui/").await;
    assert_eq!(parts.status, 200);
    let (parts, _) = fetch(&router, "/api/v1/agents").await;
    assert_eq!(parts.status, 404);
}

#[tokio::test]
async fn unknown_ui_paths_are_json_404s() {
    let app = app();
    let (parts, body) = fetch(&app.router, "/ui/nope.js").await;
    assert_eq!(parts.status, 404);
    assert!(body.contains("\"error\":\"not_found\""), "{body}");
}

#[tokio::test]
async fn a_token_lists_only_its_own_workspaces_agents_without_secrets() {
    let app = app_with(
        vec![
            agent("a2", "c1", "ws"),
            agent("a1", "c1", "ws"),
            agent("b1", "c2", "other"),
        ],
        config(),
    );
    let (response, body) = send(&app, get("/api/v1/agents", TOKEN)).await;
    assert_eq!(response.status(), 200);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "a2"]);
    assert_eq!(body[0]["webhook_path"], "/api/v1/webhooks/c1/a1/trigger");
    assert_eq!(body[0]["webhook_secret_set"], true);
    assert!(
        !body.to_string().contains(SECRET),
        "a secret leaked: {body}"
    );

    let (response, body) = send(&app, get("/api/v1/agents", OTHER_TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["id"], "b1");
}

#[tokio::test]
async fn listing_agents_needs_a_valid_token() {
    let app = app();
    let (response, body) = send(&app, get("/api/v1/agents", "wrong")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "invalid_token");
    let request = Request::get("/api/v1/agents").body(Body::empty()).unwrap();
    let (response, body) = send(&app, request).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "missing_token");
}
