//! `docs/webhooks.md`: the payload (envelope and raw forms) and deduplication.

use axum::body::Body;
use axum::http::Request;

use crate::common::ingress::*;
use crate::common::*;

const JSON: (&str, &str) = ("content-type", "application/json");

async fn accept(app: &App, request: Request<Body>) -> (String, bool) {
    let (response, body) = send(app, request).await;
    assert_eq!(response.status(), 202, "{body}");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (body["run_id"].as_str().unwrap().to_owned(), replayed)
}

#[tokio::test]
async fn envelope_form_gives_event_and_source_from_the_body() {
    let app = app();
    let body = r#"{"event":"deploy","source":"ci","data":{"n":1}}"#;
    let headers = [
        JSON,
        ("x-signature", &*sign(body.as_bytes())),
        ("x-github-event", "push"),
    ];
    accept(&app, post("c1", "a1", &headers, body)).await;
    let run = &runs_of(&app, "a1").await[0];
    assert_eq!((run.event.as_str(), run.source.as_str()), ("deploy", "ci"));
    assert_eq!(run.payload.get(), body);

    // Any of the keys makes an envelope; missing event/source are empty.
    let body = r#"{"data":[1,2]}"#;
    accept(&app, trigger_request("c1", "a1", body)).await;
    let runs = runs_of(&app, "a1").await;
    let run = runs.iter().find(|r| r.payload.get() == body).unwrap();
    assert_eq!((run.event.as_str(), run.source.as_str()), ("", ""));
}

#[tokio::test]
async fn raw_form_takes_event_and_source_from_sender_headers() {
    /// Sender headers, body, expected event, expected source.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: [Case; 4] = [
        (
            &[("x-github-event", "pull_request")],
            r#"{"action":"opened","n":1}"#,
            "pull_request.opened",
            "github",
        ),
        (
            &[("x-github-event", "push")],
            r#"{"ref":"main"}"#,
            "push",
            "github",
        ),
        (
            &[("x-gitlab-event", "Merge Request Hook")],
            r#"{"object_kind":"mr"}"#,
            "Merge Request Hook",
            "gitlab",
        ),
        (&[], r#"{"anything":true}"#, "webhook", "unknown"),
    ];
    for (extra, body, event, source) in cases {
        let app = app();
        let sig = sign(body.as_bytes());
        let mut headers = vec![JSON, ("x-signature", sig.as_str())];
        headers.extend_from_slice(extra);
        accept(&app, post("c1", "a1", &headers, body)).await;
        let run = &runs_of(&app, "a1").await[0];
        assert_eq!(
            (run.event.as_str(), run.source.as_str()),
            (event, source),
            "{body}"
        );
        assert_eq!(run.payload.get(), body);
    }
}

#[tokio::test]
async fn a_replayed_delivery_id_answers_the_original_run_and_creates_nothing() {
    let app = app();
    for header in [
        "idempotency-key",
        "webhook-id",
        "x-github-delivery",
        "x-delivery-id",
    ] {
        let first_body = format!(r#"{{"h":"{header}","n":1}}"#);
        let second_body = format!(r#"{{"h":"{header}","n":2}}"#);
        let s1 = sign(first_body.as_bytes());
        let s2 = sign(second_body.as_bytes());
        let id = format!("delivery-{header}");
        let (original, replayed) = accept(
            &app,
            post(
                "c1",
                "a1",
                &[JSON, ("x-signature", &*s1), (header, &*id)],
                first_body,
            ),
        )
        .await;
        assert!(!replayed);
        // A different body (so a different signature) with the same delivery id is a duplicate.
        let request = post(
            "c1",
            "a1",
            &[JSON, ("x-signature", &*s2), (header, &*id)],
            second_body,
        );
        let (response, body) = send(&app, request).await;
        assert_eq!(response.status(), 202);
        assert_eq!(
            response.headers()["idempotent-replayed"],
            "true",
            "{header}"
        );
        assert_eq!(body["run_id"], original.as_str());
        assert_eq!(
            response.headers()["location"],
            format!("/api/v1/runs/{original}")
        );
    }
    assert_eq!(runs_of(&app, "a1").await.len(), 4);
    assert_eq!(app.memory.queue.len(), 4);
}

#[tokio::test]
async fn the_same_signature_is_a_duplicate_whatever_the_hex_case() {
    let app = app();
    let body = r#"{"same":"body"}"#;
    let sig = sign(body.as_bytes());
    let (original, _) = accept(
        &app,
        post("c1", "a1", &[JSON, ("x-signature", &*sig)], body),
    )
    .await;
    let upper = sig.to_uppercase();
    let (again, replayed) = accept(
        &app,
        post("c1", "a1", &[JSON, ("x-signature", &*upper)], body),
    )
    .await;
    assert!(replayed);
    assert_eq!(again, original);
    // The GitHub header carries the same MAC: the same delivery.
    let hub = format!("sha256={sig}");
    let (again, replayed) = accept(
        &app,
        post("c1", "a1", &[JSON, ("x-hub-signature-256", &*hub)], body),
    )
    .await;
    assert!(replayed);
    assert_eq!(again, original);
    assert_eq!(runs_of(&app, "a1").await.len(), 1);
    assert_eq!(app.memory.queue.len(), 1);
}

#[tokio::test]
async fn identical_bodies_with_different_timestamps_are_different_deliveries() {
    let app = app();
    let body = br#"{"tick":true}"#;
    let t1 = unix_now(&app);
    let t2 = (t1.parse::<i64>().unwrap() + 1).to_string();
    let mut ids = Vec::new();
    for ts in [&t1, &t2] {
        let sig = sign_timestamped(ts, body);
        let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", ts.as_str())];
        let (id, replayed) = accept(&app, post("c1", "a1", &headers, &body[..])).await;
        assert!(!replayed);
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    // The same timestamp again is a replay.
    let sig = sign_timestamped(&t1, body);
    let headers = [JSON, ("x-signature", &*sig), ("x-timestamp", t1.as_str())];
    let (id, replayed) = accept(&app, post("c1", "a1", &headers, &body[..])).await;
    assert!(replayed);
    assert_eq!(id, ids[0]);
}

#[tokio::test]
async fn delivery_keys_are_scoped_to_the_agent() {
    let app = app_with(
        vec![agent("a1", "c1", "ws"), agent("a2", "c1", "ws")],
        config(),
    );
    let headers = [
        JSON,
        ("x-signature", &*sign(b"{}")),
        ("idempotency-key", "k"),
    ];
    let (first, _) = accept(&app, post("c1", "a1", &headers, "{}")).await;
    let (second, replayed) = accept(&app, post("c1", "a2", &headers, "{}")).await;
    assert!(!replayed);
    assert_ne!(first, second);
}

#[tokio::test]
async fn the_legacy_header_dedups_only_by_delivery_id() {
    let app = app();
    let headers = [JSON, ("x-webhook-secret", SECRET)];
    let (a, _) = accept(&app, post("c1", "a1", &headers, "{}")).await;
    let (b, replayed) = accept(&app, post("c1", "a1", &headers, "{}")).await;
    assert!(!replayed);
    assert_ne!(a, b);
    let headers = [JSON, ("x-webhook-secret", SECRET), ("x-delivery-id", "d1")];
    let (c, _) = accept(&app, post("c1", "a1", &headers, "{}")).await;
    let (d, replayed) = accept(&app, post("c1", "a1", &headers, "{}")).await;
    assert!(replayed);
    assert_eq!(c, d);
}

#[tokio::test]
async fn the_dedup_window_is_configurable_and_expires() {
    let mut config = config();
    config.dedup_window = std::time::Duration::from_secs(3600);
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let (first, _) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    app.clock.advance(time::Duration::minutes(59));
    let (again, replayed) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    assert!(replayed);
    assert_eq!(again, first);
    app.clock.advance(time::Duration::minutes(2));
    let (fresh, replayed) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    assert!(!replayed);
    assert_ne!(fresh, first);
}

#[tokio::test]
async fn the_default_dedup_window_is_24_hours() {
    let app = app();
    let (first, _) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    app.clock.advance(time::Duration::hours(23));
    let (_, replayed) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    assert!(replayed);
    app.clock
        .advance(time::Duration::hours(1) + time::Duration::seconds(1));
    let (fresh, replayed) = accept(&app, trigger_request("c1", "a1", "{}")).await;
    assert!(!replayed);
    assert_ne!(fresh, first);
}
