//! Property tests that generate deep and wide JSON (issue 16, item 9; `cargo fuzz` needs a
//! nightly toolchain, these run on stable in every `cargo test`, bounded by their case counts):
//! the payload parser and the `Data:` renderer never crash and keep their promises, and the
//! router as a whole never panics, never answers 5xx and answers every error as JSON.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, header};
use crewship_core::json_depth::DEFAULT_MAX_DEPTH;
use crewship_core::message::{MAX_RENDERED_BYTES, agent_message, render_data};
use crewship_core::payload::{Payload, SenderHints};
use proptest::collection::vec;
use proptest::prelude::*;

/// Scalars, numbers in every spelling, strings with anything in them.
fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[\\n\\r\\u{2028},:{}\\[\\]\" a-z]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

/// Wide values: up to 64 elements or 32 members a level, a few levels deep.
fn wide() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 512, 64, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..64).prop_map(|items| format!("[{}]", items.join(","))),
            vec((any::<String>(), inner), 0..32).prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// Deep values: up to 400 levels of arrays and objects (mixed) around a wide value.
fn deep() -> impl Strategy<Value = String> {
    (vec(any::<bool>(), 0..400), wide()).prop_map(|(levels, core)| {
        let mut text = String::new();
        for &array in &levels {
            text.push_str(if array { "[" } else { "{\"k\":" });
        }
        text.push_str(&core);
        for &array in levels.iter().rev() {
            text.push(if array { ']' } else { '}' });
        }
        text
    })
}

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![wide(), deep()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Parsing, rendering and building the message finish for any depth and width; the
    /// rendering stays on one line and within its size cap.
    #[test]
    fn parsing_and_rendering_never_crash(data in json_value(), envelope in any::<bool>()) {
        let body = if envelope { format!("{{\"event\":\"e\",\"data\":{data}}}") } else { data.clone() };
        if let Ok(payload) = Payload::parse(body.as_bytes(), SenderHints::default(), DEFAULT_MAX_DEPTH) {
            let data = Payload::data_of(&payload.raw);
            let rendered = render_data(data);
            prop_assert!(!rendered.contains('\n') && !rendered.contains('\r'), "{rendered}");
            prop_assert!(rendered.len() <= MAX_RENDERED_BYTES + 64);
            let message = agent_message(&payload.event, &payload.source, data, "n0nce");
            prop_assert_eq!(message.lines().count(), 6);
            prop_assert!(serde_json::to_string(&payload.raw).is_ok());
        }
    }
}

/// Every route, with `{}` where its path parameter goes, and the credentials it takes.
const ROUTES: &[(&str, &str, u8)] = &[
    ("POST", "/api/v1/webhooks/c1/{}/trigger", b's'),
    ("GET", "/api/v1/runs/{}", b'b'),
    ("POST", "/api/v1/runs/{}/cancel", b'b'),
    ("GET", "/api/v1/agents/{}/runs", b'b'),
    ("GET", "/api/v1/agents/{}/logs", b'b'),
    ("POST", "/api/v1/agents/{}/webhook-secret/rotate", b'b'),
    ("PUT", "/api/v1/agents/{}/sources/0/secret", b'b'),
    ("POST", "/api/v1/runs/{}/replay", b'b'),
    ("POST", "/api/v1/agents/{}/runs/replay", b'b'),
    ("GET", "/api/v1/runs/{}/callbacks", b'b'),
    ("GET", "/api/v1/internal/agents/{}/webhook-secret", b'i'),
    ("GET", "/api/v1/internal/agents/{}", b'i'),
    ("PUT", "/api/v1/internal/agents/{}", b'i'),
    ("DELETE", "/api/v1/internal/agents/{}", b'i'),
    ("GET", "/api/v1/internal/agents", b'i'),
    ("GET", "/healthz", b'-'),
];

/// A path segment: plausible ids, or any bytes percent-encoded.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a1".to_owned()),
        Just("b1".to_owned()),
        "[a-zA-Z0-9_-]{1,20}",
        vec(any::<u8>(), 1..12)
            .prop_map(|bytes| bytes.iter().map(|b| format!("%{b:02X}")).collect()),
    ]
}

/// A query string with repeated, unknown and undecodable keys.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("crew_id"),
        Just("workspace_id"),
        Just("limit"),
        Just("cursor"),
        Just("status"),
        Just("trigger"),
        Just("run_id"),
        Just("%FF"),
        Just("x"),
    ];
    let value = prop_oneof![
        "[a-zA-Z0-9]{0,8}",
        Just("%FF".to_owned()),
        Just("%C3%28".to_owned())
    ];
    vec((key, value), 0..5).prop_map(|pairs| {
        if pairs.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("?{}", pairs.join("&"))
        }
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(String::into_bytes),
        json_value().prop_map(|d| format!("{{\"event\":\"e\",\"data\":{d}}}").into_bytes()),
        vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// The router as a whole: whatever the route, path, query, body and credentials, it never
    /// panics, never answers 5xx, answers every error as JSON, and without valid credentials
    /// answers nothing but `401`/`403`.
    #[test]
    fn the_router_never_panics_never_5xx_and_errors_are_json(
        route in 0..ROUTES.len(),
        segment in segment(),
        query in query(),
        body in body(),
        credentials in any::<bool>(),
    ) {
        let (method, template, auth) = ROUTES[route];
        let path = format!("{}{query}", template.replace("{}", &segment));
        let mut builder = Request::builder().method(method).uri(&path);
        if credentials {
            builder = match auth {
                b'i' => builder.header("x-internal-token", INTERNAL),
                b'b' => builder.header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
                b's' => builder.header("x-signature", sign(&body)),
                _ => builder,
            };
        }
        let request = builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, content_type, answer) = runtime.block_on(async {
            let (response, answer) = send(&app(), request).await;
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (response.status().as_u16(), content_type, answer)
        });
        prop_assert!(status < 500, "{method} {path}: {status} {answer}");
        if status >= 400 {
            prop_assert!(content_type.starts_with("application/json"), "{method} {path}: {status}");
            prop_assert!(answer["error"].is_string() && answer["message"].is_string(), "{answer}");
        }
        if !credentials {
            match auth {
                b'i' => prop_assert_eq!(status, 403, "{} {}", method, path),
                b'b' | b's' => prop_assert_eq!(status, 401, "{} {}", method, path),
                _ => {}
            }
        }
    }
}
