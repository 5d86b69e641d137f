//! `docs/replay.md` at the router: one run (`POST /api/v1/runs/{id}/replay`) and in bulk
//! (`POST /api/v1/agents/{id}/runs/replay`): what the new run carries, what it bypasses
//! (dedup, the event filter), what it obeys (the cap), and the errors of bad requests.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use crewship_core::clock::Clock;
use crewship_core::event_filter::EventFilter;
use crewship_core::ids::RunId;
use crewship_core::run::{AuthScheme, NewRun, Run, RunStatus, TriggerType};
use crewship_core::store::RunStore;
use serde_json::Value;

use crate::common::ingress::*;
use crate::common::*;

fn replay(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn triggered(app: &App, body: &str) -> String {
    let (response, answer) = send(app, trigger_request("c1", "a1", body)).await;
    assert_eq!(response.status(), 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

/// A finished run of agent `a1` written straight to the store.
async fn finished(app: &App, status: RunStatus, event: &str, payload_missing: bool) -> RunId {
    let agent = agent("a1", "c1", "ws");
    let new = NewRun {
        id: RunId::generate(),
        event: event.into(),
        source: "test".into(),
        auth_scheme: AuthScheme::GitHub,
        delivery_id: Some("d".into()),
        payload: Arc::from(serde_json::value::RawValue::from_string(r#"{"n":1}"#.into()).unwrap()),
    };
    let mut run = Run::queued(&agent, new, app.clock.now());
    run.finish(status, None, None, app.clock.now());
    run.payload_missing = payload_missing;
    app.memory.store.create(&run).await.unwrap();
    run.id
}

async fn stored(app: &App, id: &str) -> Run {
    app.memory
        .store
        .get(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_replay_is_a_new_run_of_the_same_payload_answered_like_the_trigger() {
    let app = app();
    let original = triggered(&app, r#"{"event":"e","source":"s","data":{"n":1.50}}"#).await;
    let path = format!("/api/v1/runs/{original}/replay");
    let (response, body) = send(&app, replay(&path, TOKEN, "")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "accepted");
    let id = body["run_id"].as_str().unwrap();
    assert_ne!(id, original);
    assert_eq!(
        response.headers()["location"],
        format!("/api/v1/runs/{id}").as_str()
    );
    assert!(response.headers().contains_key("ratelimit-remaining"));

    let (old, new) = (stored(&app, &original).await, stored(&app, id).await);
    assert_eq!(new.trigger_type, TriggerType::Replay);
    assert_eq!(
        new.replay_of.as_ref().map(RunId::as_str),
        Some(original.as_str())
    );
    assert_eq!(new.status, RunStatus::Queued);
    assert_eq!(new.payload.get(), old.payload.get());
    assert_eq!((new.event.as_str(), new.source.as_str()), ("e", "s"));
    assert_eq!(new.auth_scheme, old.auth_scheme);
    assert!(new.delivery_id.is_none());
    assert_eq!(
        app.memory.queue.len(),
        2,
        "the replay went through the intake"
    );

    // An explicit action: no dedup, a second replay is another run.
    let (_, again) = send(&app, replay(&path, TOKEN, "")).await;
    assert_ne!(again["run_id"], body["run_id"]);
    let (_, run) = send(&app, get(&format!("/api/v1/runs/{id}"), TOKEN)).await;
    assert_eq!(
        (run["trigger_type"].as_str(), run["replay_of"].as_str()),
        (Some("REPLAY"), Some(original.as_str()))
    );
}

#[tokio::test]
async fn another_workspaces_run_and_unknown_runs_are_404() {
    let app = app();
    let original = triggered(&app, "{}").await;
    for (path, token) in [
        (format!("/api/v1/runs/{original}/replay"), OTHER_TOKEN),
        ("/api/v1/runs/run_unknown/replay".to_owned(), TOKEN),
        ("/api/v1/runs/not%20an%20id/replay".to_owned(), TOKEN),
    ] {
        let (response, body) = send(&app, replay(&path, token, "")).await;
        assert_eq!(response.status(), 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    let (response, _) = send(
        &app,
        replay(&format!("/api/v1/runs/{original}/replay"), "nope", ""),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(runs_of(&app, "a1").await.len(), 1);
}

#[tokio::test]
async fn a_run_whose_payload_is_gone_cannot_be_replayed() {
    let app = app();
    let id = finished(&app, RunStatus::Failed, "e", true).await;
    let (response, body) = send(
        &app,
        replay(&format!("/api/v1/runs/{id}/replay"), TOKEN, ""),
    )
    .await;
    assert_eq!(response.status(), 409, "{body}");
    assert_eq!(body["error"], "payload_missing");
    assert_eq!(runs_of(&app, "a1").await.len(), 1);
}

#[tokio::test]
async fn a_replay_bypasses_the_event_filter_but_obeys_the_queued_cap() {
    let mut filtered = agent("a1", "c1", "ws");
    filtered.events = EventFilter::from_spec(Some(vec!["push".into()])).unwrap();
    filtered.max_queued_runs = 1;
    let app = app_with(vec![filtered], config());
    let (_, skipped) = send(&app, trigger_request("c1", "a1", r#"{"event":"other"}"#)).await;
    assert_eq!(skipped["status"], "filtered");
    let path = format!(
        "/api/v1/runs/{}/replay",
        skipped["run_id"].as_str().unwrap()
    );
    let (response, body) = send(&app, replay(&path, TOKEN, "")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(
        stored(&app, body["run_id"].as_str().unwrap()).await.status,
        RunStatus::Queued
    );

    let (response, body) = send(&app, replay(&path, TOKEN, "")).await;
    assert_eq!(response.status(), 429, "{body}");
    assert_eq!(body["error"], "queue_full");
    assert!(response.headers().contains_key("retry-after"));
}

async fn bulk(app: &App, body: &str) -> (u16, Value) {
    let (response, answer) = send(app, replay("/api/v1/agents/a1/runs/replay", TOKEN, body)).await;
    (response.status().as_u16(), answer)
}

fn replayed_originals(answer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = answer["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["replay_of"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn bulk_replay_replays_exactly_the_matching_runs() {
    let app = app();
    let failed_a = finished(&app, RunStatus::Failed, "pull_request.opened", false).await;
    let _done = finished(&app, RunStatus::Completed, "pull_request.opened", false).await;
    let failed_b = finished(&app, RunStatus::Failed, "push", false).await;
    let gone = finished(&app, RunStatus::Failed, "push", true).await;

    let (status, answer) = bulk(&app, r#"{"status":"FAILED"}"#).await;
    assert_eq!(status, 202, "{answer}");
    let mut want = vec![failed_a.to_string(), failed_b.to_string()];
    want.sort();
    assert_eq!(replayed_originals(&answer), want);
    assert_eq!(answer["skipped"], serde_json::json!([gone.to_string()]));
    assert_eq!(answer["more"], false);
    for r in answer["replayed"].as_array().unwrap() {
        let run = stored(&app, r["run_id"].as_str().unwrap()).await;
        assert_eq!(run.trigger_type, TriggerType::Replay);
    }

    let (status, answer) = bulk(&app, r#"{"status":"FAILED","event":"pull_request.*"}"#).await;
    assert_eq!(status, 202);
    assert_eq!(replayed_originals(&answer), vec![failed_a.to_string()]);

    // A window that ends before every run matches nothing.
    let (status, answer) = bulk(&app, r#"{"until":"2020-01-01T00:00:00Z"}"#).await;
    assert_eq!(
        (status, answer["replayed"].as_array().unwrap().len()),
        (200, 0)
    );
}

#[tokio::test]
async fn bulk_replay_stops_at_100_and_its_cursor_continues() {
    let app = app();
    for _ in 0..130 {
        finished(&app, RunStatus::Failed, "e", false).await;
    }
    let (status, first) = bulk(&app, r#"{"status":"FAILED"}"#).await;
    assert_eq!(status, 202);
    assert_eq!(first["replayed"].as_array().unwrap().len(), 100);
    assert_eq!(first["more"], true);
    let cursor = first["cursor"].as_str().unwrap();
    let (_, second) = bulk(
        &app,
        &format!(r#"{{"status":"FAILED","cursor":"{cursor}"}}"#),
    )
    .await;
    assert_eq!(second["replayed"].as_array().unwrap().len(), 30);
    assert_eq!(second["more"], false);
    let mut all = replayed_originals(&first);
    all.extend(replayed_originals(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 130, "every failed run replayed once");
}

#[tokio::test]
async fn bulk_replay_refuses_bad_bodies_naming_the_problem() {
    let app = app();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for (body, needle) in [
        (r#"{"status":"failed"}"#, "`status`"),
        (r#"{"since":"yesterday"}"#, "`since`"),
        (r#"{"statuses":"FAILED"}"#, "statuses"),
        ("[1]", "JSON object"),
        ("{", "JSON object"),
        (deep.as_str(), "deeper than"),
        (r#"{"cursor":"not a cursor!"}"#, "`cursor`"),
    ] {
        let (status, answer) = bulk(&app, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "invalid_filter", "{body}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{body}: {answer}"
        );
    }
    let big = format!(r#"{{"event":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (status, answer) = bulk(&app, &big).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (response, _) = send(&app, replay("/api/v1/agents/b1/runs/replay", TOKEN, "{}")).await;
    assert_eq!(response.status(), 404, "another workspace's agent");
}
