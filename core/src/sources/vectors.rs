//! The senders' known-answer vectors (`core/tests/vectors/senders.json`, made by
//! `generate.py` with the senders' own SDKs where they have one): each request verifies with its
//! source's secret, and with the secret of another source of the same kind it does not.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::agent::Agent;
use crate::auth::Unverified;
use crate::ingest::{CredentialHeaders, Presented, SenderHeaders};
use crate::secret::Secret;
use crate::sources::{Source, SourceKind};

#[derive(Deserialize)]
struct Vector {
    kind: SourceKind,
    secret: String,
    headers: HashMap<String, String>,
    body: String,
    now: i64,
}

fn credential(headers: &HashMap<String, String>) -> Presented {
    let h = |name: &str| headers.get(name).cloned();
    CredentialHeaders {
        webhook_id: h("webhook-id"),
        webhook_timestamp: h("webhook-timestamp"),
        webhook_signature: h("webhook-signature"),
        senders: SenderHeaders {
            stripe_signature: h("stripe-signature"),
            slack_signature: h("x-slack-signature"),
            slack_timestamp: h("x-slack-request-timestamp"),
            svix_id: h("svix-id"),
            svix_timestamp: h("svix-timestamp"),
            svix_signature: h("svix-signature"),
            grafana_signature: h("x-grafana-alerting-signature"),
            grafana_timestamp: h("x-grafana-alerting-timestamp"),
            shopify_hmac: h("x-shopify-hmac-sha256"),
            linear_signature: h("linear-signature"),
            gitlab_token: h("x-gitlab-token").map(Secret::new),
            bearer: h("authorization").and_then(|v| v.strip_prefix("Bearer ").map(Secret::new)),
        },
        ..CredentialHeaders::default()
    }
    .select()
}

fn verifies(v: &Vector, secret: &str) -> bool {
    let Presented::Credential(credential) = credential(&v.headers) else {
        panic!("{:?}: no credential presented", v.kind);
    };
    let mut agent = Agent::for_tests("the-agents-own-secret-is-not-these");
    agent.sources = vec![Source {
        kind: v.kind,
        secret: Secret::new(secret),
        previous: None,
    }];
    let request = Unverified {
        credential,
        body: Bytes::from(v.body.clone()),
    };
    let now = OffsetDateTime::from_unix_timestamp(v.now).unwrap();
    request.authenticate(Some(&agent), now).is_ok()
}

#[test]
fn every_senders_vector_verifies_with_its_secret_and_only_with_it() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("../../tests/vectors/senders.json")).unwrap();
    let kinds: std::collections::HashSet<SourceKind> = vectors.iter().map(|v| v.kind).collect();
    assert_eq!(
        kinds.len(),
        9,
        "one vector or more per signing kind: {kinds:?}"
    );
    for v in &vectors {
        assert!(verifies(v, &v.secret), "{:?} did not verify", v.kind);
        let wrong = if v.secret.starts_with("whsec_") {
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()
        } else {
            format!("{}x", v.secret)
        };
        assert!(
            !verifies(v, &wrong),
            "{:?} verified with another secret",
            v.kind
        );
    }
}

#[test]
fn a_tampered_body_fails_every_signing_kind() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("../../tests/vectors/senders.json")).unwrap();
    for mut v in vectors
        .into_iter()
        .filter(|v| !matches!(v.kind, SourceKind::Gitlab | SourceKind::Bearer))
    {
        v.body.push(' ');
        assert!(!verifies(&v, &v.secret.clone()), "{:?}", v.kind);
    }
}
