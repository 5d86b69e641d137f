//! Property tests over random headers and bodies: the ingress never panics, never answers 5xx,
//! and never creates a run without valid credentials.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use proptest::prelude::*;

use crate::common::ingress::*;
use crate::common::*;

/// Header names the ingress reads, plus some it does not.
const NAMES: &[&str] = &[
    "x-signature",
    "x-timestamp",
    "x-hub-signature-256",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-webhook-secret",
    "content-type",
    "content-length",
    "idempotency-key",
    "x-github-delivery",
    "x-delivery-id",
    "x-github-event",
    "x-gitlab-event",
    "x-random",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Plausible values: hex, timestamps, scheme prefixes, content types.
        "[0-9a-fA-F]{0,70}".prop_map(String::into_bytes),
        "[0-9+. -]{0,25}".prop_map(String::into_bytes),
        "(sha256=|v1,)[A-Za-z0-9+/=]{0,90}( v1,[A-Za-z0-9+/=]{0,50})?".prop_map(String::into_bytes),
        "(application/(json|[a-z.]+\\+json)|text/plain)(; charset=utf-8)?"
            .prop_map(String::into_bytes),
        // Anything a header value may hold at all.
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\{(\"(event|source|data|action)\":(\"[a-z]{0,8}\"|[0-9]{1,3}|null|\\[\\]|\\{\\}),?){0,4}\\}".prop_map(String::into_bytes),
    ]
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a1".to_owned()),
        Just("b1".to_owned()),
        "[a-zA-Z0-9%_-]{1,12}"
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_panic_never_5xx_and_never_create_a_run(
        crew in prop_oneof![Just("c1".to_owned()), Just("c2".to_owned()), "[a-z0-9]{1,6}"],
        agent in path_segment(),
        headers in proptest::collection::vec((0..NAMES.len(), header_value()), 0..8),
        body in body(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let app = app();
            let mut builder = Request::post(format!("/api/v1/webhooks/{crew}/{agent}/trigger"));
            for (name, value) in &headers {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    builder = builder.header(HeaderName::from_static(NAMES[*name]), value);
                }
            }
            let Ok(request) = builder.body(Body::from(body.clone())) else { return Ok(()) };
            let (response, json) = send(&app, request).await;
            let status = response.status();
            prop_assert!(!status.is_server_error(), "{status}: {json}");
            prop_assert!(!status.is_success(), "{status}: {json}");
            prop_assert!(json["error"].is_string(), "not a JSON error: {status}");
            prop_assert!(json["message"].is_string());
            prop_assert!(runs_of(&app, "a1").await.is_empty());
            prop_assert!(runs_of(&app, "b1").await.is_empty());
            prop_assert!(app.memory.queue.is_empty());
            Ok(())
        })?;
    }

    #[test]
    fn validly_signed_random_requests_never_5xx_and_create_at_most_one_run(
        headers in proptest::collection::vec((3..NAMES.len(), header_value()), 0..6),
        body in body(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let app = app();
            let mut builder = Request::post("/api/v1/webhooks/c1/a1/trigger")
                .header("x-signature", sign(&body));
            for (name, value) in &headers {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    builder = builder.header(HeaderName::from_static(NAMES[*name]), value);
                }
            }
            let Ok(request) = builder.body(Body::from(body.clone())) else { return Ok(()) };
            let (response, json) = send(&app, request).await;
            let status = response.status();
            prop_assert!(!status.is_server_error(), "{status}: {json}");
            let runs = runs_of(&app, "a1").await.len();
            if status.is_success() {
                prop_assert_eq!(status.as_u16(), 202);
                prop_assert_eq!(runs, 1);
            } else {
                prop_assert!(json["error"].is_string(), "not a JSON error: {}", status);
                prop_assert_eq!(runs, 0);
            }
            Ok(())
        })?;
    }
}
