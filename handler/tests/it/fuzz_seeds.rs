//! The inputs of issue 16 that broke the service, kept as regression seeds (`fuzz-seeds/`).
//! Each runs on every `cargo test`; a crash here is a stack overflow that would have taken the
//! whole process down.

use std::path::PathBuf;

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, header};
use crewship_core::json_depth::MAX_CONFIGURABLE_DEPTH;
use crewship_core::message::{agent_message, render_data};
use crewship_core::payload::{Payload, SenderHints};

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz-seeds")
}

fn deep_seeds() -> Vec<(String, String)> {
    ["deep-array-30000.json", "deep-object-30000.json"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(seeds_dir().join(name)).unwrap();
            (name.to_string(), text)
        })
        .collect()
}

/// Every walk over an accepted payload (rendering, the message, re-serialisation) finishes at
/// the deepest limit that may be configured; a deeper payload the parser refuses. On the code
/// before the nesting limit, rendering the seeds overflowed the stack and aborted the process.
#[test]
fn deep_seed_payloads_never_overflow_a_walk() {
    let seeds = deep_seeds();
    assert!(!seeds.is_empty());
    for (name, text) in seeds {
        let refused = Payload::parse(
            text.as_bytes(),
            SenderHints::default(),
            MAX_CONFIGURABLE_DEPTH,
        );
        assert!(
            refused.is_err(),
            "{name} is deeper than any configurable limit"
        );
        // The renderer alone keeps no stack: even the seed itself renders.
        assert!(!render_data(&text).is_empty(), "{name}");
    }
    let deepest = MAX_CONFIGURABLE_DEPTH - 1;
    for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
        let text = format!(
            "{{\"data\":{}1{}}}",
            open.repeat(deepest),
            close.repeat(deepest)
        );
        let payload = Payload::parse(
            text.as_bytes(),
            SenderHints::default(),
            MAX_CONFIGURABLE_DEPTH,
        )
        .unwrap();
        let data = Payload::data_of(&payload.raw);
        let rendered = render_data(data);
        let message = agent_message(&payload.event, &payload.source, data, "nonce");
        let json = serde_json::to_string(&payload.raw).unwrap();
        assert!(rendered.ends_with(close) && message.contains(&rendered[..64]));
        assert_eq!(json, text);
    }
}

/// Deeper than the limit is `400 invalid_payload` naming the limit, and no run is created.
#[tokio::test]
async fn deep_seed_bodies_are_refused_at_ingest() {
    let app = app();
    for (name, text) in deep_seeds() {
        let (response, body) = send(&app, trigger_request("c1", "a1", &text)).await;
        assert_eq!(response.status(), 400, "{name}: {body}");
        assert_eq!(body["error"], "invalid_payload", "{name}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains("128"),
            "{name}: the message names the limit: {body}"
        );
    }
    assert!(ingress::runs_of(&app, "a1").await.is_empty());
}

/// Requests that were answered in plain text, or parsed before their credentials were checked.
#[tokio::test]
async fn seed_requests_are_refused_for_their_credentials_as_json() {
    let app = app();
    let seeds = std::fs::read_to_string(seeds_dir().join("requests.txt")).unwrap();
    let mut count = 0;
    for line in seeds
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [method, path, status] = fields[..] else {
            panic!("bad seed line {line:?}");
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"crew_id\":"))
            .unwrap();
        let (response, body) = send(&app, request).await;
        assert_eq!(response.status().as_str(), status, "{line}: {body}");
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("application/json"), "{line}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{line}"
        );
        count += 1;
    }
    assert!(count >= 8, "the seed file was read");
}
