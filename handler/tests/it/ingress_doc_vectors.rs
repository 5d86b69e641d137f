//! The known-answer vector of `docs/webhooks.md`: the values printed there are the ones this
//! code computes, and the server accepts each signed example.

use base64::Engine;
use crewship_core::secret::Secret;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::common::ingress::*;
use crate::common::*;

const DOC_SECRET: &str = "doc-example-secret-0123456789abcdef";
const DOC_BODY: &str = r#"{"event":"deploy","source":"ci","data":{"env":"prod"}}"#;
const DOC_TS: &str = "1767225600";
const DOC_ID: &str = "msg_2Lz1";

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/webhooks.md")).unwrap()
}

struct Vector {
    signature: String,
    timestamped: String,
    standard: String,
    whsec: String,
    body_sha256: String,
}

fn vector() -> Vector {
    let b64 = base64::engine::general_purpose::STANDARD;
    Vector {
        signature: Signer::new(DOC_SECRET).signature(DOC_BODY.as_bytes()),
        timestamped: Signer::new(DOC_SECRET).timestamped(DOC_TS, DOC_BODY.as_bytes()),
        standard: standard_signature(DOC_SECRET, DOC_ID, DOC_TS, DOC_BODY.as_bytes()),
        whsec: format!("whsec_{}", b64.encode(DOC_SECRET)),
        body_sha256: hex::encode(Sha256::digest(DOC_BODY)),
    }
}

#[test]
fn the_docs_print_the_vector_this_code_computes() {
    let doc = doc();
    let v = vector();
    assert_eq!(
        v.signature,
        "1d179cb42de243ce1641dcaeb0d7d76cbf717ca8f79b5ddd77ecc76909062bd9"
    );
    for (what, value) in [
        ("X-Signature", &v.signature),
        ("timestamped X-Signature", &v.timestamped),
        ("webhook-signature", &v.standard),
        ("whsec_ secret", &v.whsec),
        ("body SHA-256", &v.body_sha256),
        ("secret", &DOC_SECRET.to_owned()),
        ("body", &DOC_BODY.to_owned()),
        ("body length", &format!("body ({} bytes)", DOC_BODY.len())),
    ] {
        assert!(
            doc.contains(value.as_str()),
            "docs/webhooks.md lacks the {what} {value}"
        );
    }
}

#[tokio::test]
async fn the_server_accepts_every_documented_example() {
    let mut doc_agent = agent("agent_echo", "crew_demo", "ws");
    doc_agent.webhook_secret = Some(Secret::new(DOC_SECRET));
    let app = app_with(vec![doc_agent], config());
    app.clock
        .set(OffsetDateTime::from_unix_timestamp(DOC_TS.parse().unwrap()).unwrap());
    let v = vector();
    let json = ("content-type", "application/json");
    let hub = format!("sha256={}", v.signature);
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("X-Signature", vec![json, ("x-signature", &v.signature)]),
        (
            "timestamped",
            vec![
                json,
                ("x-timestamp", DOC_TS),
                ("x-signature", &v.timestamped),
            ],
        ),
        (
            "Standard Webhooks",
            vec![
                json,
                ("webhook-id", DOC_ID),
                ("webhook-timestamp", DOC_TS),
                ("webhook-signature", &v.standard),
            ],
        ),
        (
            "GitHub",
            vec![
                json,
                ("x-hub-signature-256", &hub),
                ("idempotency-key", "gh"),
            ],
        ),
    ];
    let mut first = None;
    for (name, headers) in cases {
        let (response, body) =
            send(&app, post("crew_demo", "agent_echo", &headers, DOC_BODY)).await;
        assert_eq!(response.status(), 202, "{name}: {body}");
        // The GitHub case carries the same MAC as the first: the documented dedup consequence.
        if name == "GitHub" {
            assert_eq!(response.headers()["idempotent-replayed"], "true");
            assert_eq!(Some(body["run_id"].clone()), first);
        }
        first.get_or_insert(body["run_id"].clone());
    }
    assert_eq!(runs_of(&app, "agent_echo").await.len(), 3);

    // The documented 401 hint: the body's length and SHA-256.
    let headers = [json, ("x-signature", "00")];
    let (response, body) = send(&app, post("crew_demo", "agent_echo", &headers, DOC_BODY)).await;
    assert_eq!(response.status(), 401);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&v.body_sha256) && message.contains("54 bytes"),
        "{message}"
    );
}
