//! `docs/webhooks.md` steps 4–7 and its authentication schemes: timestamps, authentication, schemes
//! and their precedence, the legacy header and its sunset, `require_timestamp`.

use crewship_core::run::AuthScheme;
use sha2::{Digest, Sha256};
use time::macros::datetime;

use crate::common::ingress::*;
use crate::common::*;

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn invalid_and_stale_timestamps_are_400_before_the_agent_is_looked_up() {
    let app = app();
    let now: i64 = unix_now(&app).parse().unwrap();
    let stale = (now - 301).to_string();
    let cases = [
        ("abc", "invalid_timestamp"),
        ("-5", "invalid_timestamp"),
        ("+1700000000", "invalid_timestamp"),
        ("1700000000.5", "invalid_timestamp"),
        (" 1700000000", "invalid_timestamp"),
        ("123456789012345678901234567890", "invalid_timestamp"),
        ("9223372036854775807", "stale_timestamp"),
        (stale.as_str(), "stale_timestamp"),
    ];
    // The same answer for a real agent, an unknown one and one of another crew.
    for (crew, agent) in [("c1", "a1"), ("c1", "nobody"), ("c1", "b1")] {
        for (ts, code) in cases {
            let sig = sign_timestamped(ts, b"{}");
            let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", ts)];
            let (response, body) = send(&app, post(crew, agent, &headers, "{}")).await;
            assert_eq!(response.status(), 400, "{crew}/{agent} {ts:?}");
            assert_eq!(body["error"], code, "{crew}/{agent} {ts:?}");
        }
    }
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn timestamp_window_bounds_are_inclusive() {
    let app = app();
    let now: i64 = unix_now(&app).parse().unwrap();
    for (offset, status) in [(-300, 202), (300, 202), (-301, 400), (301, 400)] {
        let ts = (now + offset).to_string();
        let body = format!(r#"{{"offset":{offset}}}"#);
        let sig = sign_timestamped(&ts, body.as_bytes());
        let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", &*ts)];
        let (response, json) = send(&app, post("c1", "a1", &headers, body)).await;
        assert_eq!(response.status(), status, "{offset}: {json}");
    }
}

#[tokio::test]
async fn timestamp_tolerance_is_configurable() {
    let mut config = config();
    config.timestamp_tolerance = std::time::Duration::from_secs(10);
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let ts = (unix_now(&app).parse::<i64>().unwrap() - 11).to_string();
    let sig = sign_timestamped(&ts, b"{}");
    let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", &*ts)];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body["error"], "stale_timestamp");
}

#[tokio::test]
async fn every_authentication_failure_gets_the_same_401() {
    let mut other_crew_agent = agent("a2", "c9", "ws");
    other_crew_agent.webhook_secret = Some(crewship_core::secret::Secret::new(SECRET));
    let mut secretless = agent("a3", "c1", "ws");
    secretless.webhook_secret = None;
    let app = app_with(
        vec![agent("a1", "c1", "ws"), other_crew_agent, secretless],
        config(),
    );
    let good = sign(b"{}");
    let wrong = sign_with("wrong-secret", b"{}");
    let cases = [
        ("unknown agent", "a404", good.as_str()),
        ("agent of another crew", "a2", good.as_str()),
        ("agent without a secret", "a3", good.as_str()),
        ("wrong secret", "a1", wrong.as_str()),
        ("not hex", "a1", "zz"),
        ("63 hex digits", "a1", &good[..63]),
        ("65 hex digits", "a1", &*format!("{good}0")),
        ("invalid agent id", "a%20b%2F", good.as_str()),
    ];
    let mut bodies = Vec::new();
    for (name, agent, sig) in cases {
        let headers = [JSON, ("x-signature", sig)];
        let (response, body) = send(&app, post("c1", agent, &headers, "{}")).await;
        assert_eq!(response.status(), 401, "{name}");
        bodies.push((name, body));
    }
    for (name, body) in &bodies {
        assert_eq!(body, &bodies[0].1, "{name} differs from {}", bodies[0].0);
    }
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn the_401_names_the_scheme_and_the_body_digest_but_nothing_of_the_secret() {
    let app = app();
    let body = r#"{"event":"push"}"#;
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    let wrong = sign_with("wrong", body.as_bytes());
    let headers = [JSON, ("x-signature", &*wrong)];
    let (response, json) = send(&app, post("c1", "a1", &headers, body)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(json["error"], "invalid_credentials");
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("X-Signature"), "{message}");
    assert!(
        message.contains(&format!("{} bytes", body.len())),
        "{message}"
    );
    assert!(message.contains(&digest), "{message}");
    let expected = sign(body.as_bytes());
    assert!(!message.contains(SECRET));
    assert!(
        !message.contains(&expected[..16]),
        "the expected signature leaked"
    );

    let hub = format!("sha256={wrong}");
    let headers = [JSON, ("x-hub-signature-256", &*hub)];
    let (_, json) = send(&app, post("c1", "a1", &headers, body)).await;
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("X-Hub-Signature-256")
    );
}

#[tokio::test]
async fn hex_signatures_of_either_case_verify() {
    let app = app();
    for (i, case) in ["lower", "upper"].into_iter().enumerate() {
        let body = format!(r#"{{"n":{i}}}"#);
        let sig = sign(body.as_bytes());
        let sig = if case == "upper" {
            sig.to_uppercase()
        } else {
            sig
        };
        let headers = [JSON, ("x-signature", &*sig)];
        let (response, json) = send(&app, post("c1", "a1", &headers, body)).await;
        assert_eq!(response.status(), 202, "{case}: {json}");
    }
}

#[tokio::test]
async fn x_signature_alone_is_checked_with_no_fallback_to_the_plaintext_secret() {
    let app = app();
    let wrong = sign_with("wrong", b"{}");
    let headers = [JSON, ("x-signature", &*wrong), ("x-webhook-secret", SECRET)];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401, "{body}");
    assert!(response.headers().get("deprecation").is_none());

    // A malformed (non-ASCII) X-Signature still counts as present.
    let request = {
        let mut r = post("c1", "a1", &[JSON, ("x-webhook-secret", SECRET)], "{}");
        r.headers_mut().insert(
            "x-signature",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        r
    };
    let (response, _) = send(&app, request).await;
    assert_eq!(response.status(), 401);

    // A wrong GitHub signature does not fall back to a correct Standard Webhooks one either.
    let ts = unix_now(&app);
    let sw = standard_signature(SECRET, "msg_1", &ts, b"{}");
    let hub = format!("sha256={wrong}");
    let headers = [
        JSON,
        ("x-hub-signature-256", &*hub),
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", &*sw),
    ];
    let (response, _) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401);
    assert!(app.memory.queue.is_empty());
}

#[tokio::test]
async fn timestamped_x_signature_signs_timestamp_dot_body() {
    let app = app();
    let ts = unix_now(&app);
    let body = br#"{"event":"ts"}"#;
    // Signing the bare body while sending a timestamp does not verify.
    let bare = sign(body);
    let headers = [JSON, ("x-signature", &*bare), ("x-timestamp", &*ts)];
    let (response, _) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 401);

    let sig = sign_timestamped(&ts, body);
    let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", &*ts)];
    let (response, json) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 202, "{json}");
    assert_eq!(
        runs_of(&app, "a1").await[0].auth_scheme,
        AuthScheme::SignatureTimestamp
    );
}

#[tokio::test]
async fn github_x_hub_signature_256_verifies() {
    let app = app();
    let body = br#"{"action":"opened"}"#;
    let hub = Signer::new(SECRET).github(body);
    let headers = [
        JSON,
        ("x-hub-signature-256", &*hub),
        ("x-github-event", "pull_request"),
    ];
    let (response, json) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 202, "{json}");
    let run = &runs_of(&app, "a1").await[0];
    assert_eq!(run.auth_scheme, AuthScheme::GitHub);
    assert_eq!(run.event, "pull_request.opened");

    // Without the `sha256=` prefix it is a mismatch.
    let bare = sign(body);
    let headers = [JSON, ("x-hub-signature-256", &*bare)];
    let (response, _) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn standard_webhooks_signatures_verify_one_of_several() {
    let app = app();
    let ts = unix_now(&app);
    let body = br#"{"event":"sw"}"#;
    let good = standard_signature(SECRET, "msg_a", &ts, body);
    let other = standard_signature("old-secret", "msg_a", &ts, body);
    let sigs = format!("v1,bm90LWEtc2lnbmF0dXJl {other} {good} v2,ignored");
    let headers = [
        JSON,
        ("webhook-id", "msg_a"),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", &*sigs),
    ];
    let (response, json) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 202, "{json}");
    let run = &runs_of(&app, "a1").await[0];
    assert_eq!(run.auth_scheme, AuthScheme::StandardWebhooks);
    assert_eq!(run.delivery_id.as_deref(), Some("msg_a"));

    // Only wrong signatures: 401.
    let headers = [
        JSON,
        ("webhook-id", "msg_b"),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", &*other),
    ];
    let (response, _) = send(&app, post("c1", "a1", &headers, &body[..])).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn standard_webhooks_needs_all_three_headers() {
    let app = app();
    let ts = unix_now(&app);
    let sig = standard_signature(SECRET, "msg_c", &ts, b"{}");
    for (name, headers) in [
        (
            "no id",
            vec![
                JSON,
                ("webhook-timestamp", &*ts),
                ("webhook-signature", &*sig),
            ],
        ),
        (
            "no timestamp",
            vec![JSON, ("webhook-id", "msg_c"), ("webhook-signature", &*sig)],
        ),
        (
            "empty id",
            vec![
                JSON,
                ("webhook-id", ""),
                ("webhook-timestamp", &*ts),
                ("webhook-signature", &*sig),
            ],
        ),
    ] {
        let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
        assert_eq!(response.status(), 401, "{name}");
        assert!(
            body["message"].as_str().unwrap().contains("webhook-id"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn standard_webhooks_timestamp_is_checked_like_x_timestamp() {
    let app = app();
    let ts = (unix_now(&app).parse::<i64>().unwrap() - 3600).to_string();
    let sig = standard_signature(SECRET, "msg_d", &ts, b"{}");
    let headers = [
        JSON,
        ("webhook-id", "msg_d"),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", &*sig),
    ];
    let (response, body) = send(&app, post("c1", "nobody", &headers, "{}")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body["error"], "stale_timestamp");
}

#[tokio::test]
async fn legacy_secret_works_before_the_sunset_with_deprecation_headers() {
    let app = app();
    let headers = [JSON, ("x-webhook-secret", SECRET)];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(
        response.headers()["deprecation"],
        "version=\"X-Webhook-Secret\""
    );
    assert_eq!(
        response.headers()["sunset"],
        "Thu, 31 Dec 2026 23:59:59 GMT"
    );
    assert_eq!(
        runs_of(&app, "a1").await[0].auth_scheme,
        AuthScheme::LegacySecret
    );

    let headers = [JSON, ("x-webhook-secret", "wrong")];
    let (response, _) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("deprecation").is_none());
}

#[tokio::test]
async fn legacy_secret_is_refused_after_the_sunset_with_how_to_sign() {
    let app = app();
    app.clock.set(datetime!(2027-01-01 00:00:00 UTC));
    let headers = [JSON, ("x-webhook-secret", SECRET)];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body["error"], "legacy_secret_retired");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("X-Signature") && message.contains("HMAC-SHA256"),
        "{message}"
    );
    assert!(app.memory.queue.is_empty());

    // The last second before the sunset still works.
    app.clock.set(datetime!(2026-12-31 23:59:59 UTC));
    let (response, _) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn the_sunset_instant_is_configurable_and_announced() {
    let mut config = config();
    config.legacy_secret_sunset = datetime!(2026-12-01 00:00:00 UTC);
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let headers = [JSON, ("x-webhook-secret", SECRET)];
    let (response, _) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.headers()["sunset"],
        "Tue, 01 Dec 2026 00:00:00 GMT"
    );
    app.clock.set(datetime!(2026-12-01 00:00:01 UTC));
    let (response, _) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn deprecation_headers_are_on_errors_after_legacy_authentication() {
    let app = app();
    /// Headers, body, expected status.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, u16);
    let cases: [Case; 2] = [
        (
            &[("x-webhook-secret", SECRET), ("content-type", "text/plain")],
            "{}",
            415,
        ),
        (&[("x-webhook-secret", SECRET), JSON], "[1]", 400),
    ];
    for (headers, body, status) in cases {
        let (response, json) = send(&app, post("c1", "a1", headers, body)).await;
        assert_eq!(response.status(), status, "{json}");
        assert_eq!(
            response.headers()["deprecation"],
            "version=\"X-Webhook-Secret\""
        );
        assert!(response.headers().contains_key("sunset"));
    }
}

#[tokio::test]
async fn require_timestamp_refuses_untimestamped_requests_after_authentication_only() {
    let mut strict = agent("a1", "c1", "ws");
    strict.require_timestamp = true;
    let app = app_with(vec![strict], config());

    // Authenticated but untimestamped: 400 with how to sign.
    let (response, body) = send(&app, trigger_request("c1", "a1", "{}")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(body["error"], "timestamp_required");
    assert!(body["message"].as_str().unwrap().contains("X-Timestamp"));
    let hub = Signer::new(SECRET).github(b"{}");
    let (response, _) = send(
        &app,
        post("c1", "a1", &[JSON, ("x-hub-signature-256", &*hub)], "{}"),
    )
    .await;
    assert_eq!(response.status(), 400);

    // Unauthenticated: still 401, so the policy says nothing to a stranger.
    let wrong = sign_with("wrong", b"{}");
    let (response, _) = send(
        &app,
        post("c1", "a1", &[JSON, ("x-signature", &*wrong)], "{}"),
    )
    .await;
    assert_eq!(response.status(), 401);

    // Timestamped schemes pass.
    let ts = unix_now(&app);
    let sig = sign_timestamped(&ts, b"{}");
    let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", &*ts)];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202, "{body}");
    let sw = standard_signature(SECRET, "msg_e", &ts, b"{}");
    let headers = [
        JSON,
        ("webhook-id", "msg_e"),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", &*sw),
    ];
    let (response, body) = send(&app, post("c1", "a1", &headers, "{}")).await;
    assert_eq!(response.status(), 202, "{body}");
}

#[tokio::test]
async fn the_previous_secret_verifies_during_its_grace_period_only() {
    let mut rotated = agent("a1", "c1", "ws");
    rotated.webhook_secret = Some(crewship_core::secret::Secret::new("new-secret"));
    rotated.previous_secret = Some(crewship_core::agent::PreviousSecret {
        secret: crewship_core::secret::Secret::new(SECRET),
        valid_until: datetime!(2026-11-28 13:00:00 UTC),
    });
    let app = app_with(vec![rotated], config());
    let (response, _) = send(&app, trigger_request("c1", "a1", r#"{"n":1}"#)).await;
    assert_eq!(response.status(), 202);
    app.clock.set(datetime!(2026-11-28 13:00:01 UTC));
    let (response, _) = send(&app, trigger_request("c1", "a1", r#"{"n":2}"#)).await;
    assert_eq!(response.status(), 401);
}
