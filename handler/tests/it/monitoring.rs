//! The monitoring API (`docs/monitoring.md`) and the internal API (`docs/monitoring.md`, Internal
//! API), in process: pagination, parameter limits, workspace isolation on every read path.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use crewship_core::ids::RunId;
use crewship_core::log::{LogEntry, Stream};
use crewship_core::run::{AuthScheme, NewRun, Run, RunStatus};
use crewship_test_support::ws_conformance::create_run;
use serde_json::{Value, json};

use crate::common::*;

/// `n` runs of agent `a1`, oldest first; every third one COMPLETED, the rest QUEUED.
async fn seed_runs(app: &App, n: usize) -> Vec<Run> {
    let agent = agent("a1", "c1", "ws");
    let mut runs = Vec::new();
    for i in 0..n {
        let new = NewRun {
            id: RunId::generate(),
            event: format!("e{i}"),
            source: "test".into(),
            auth_scheme: AuthScheme::Signature,
            delivery_id: None,
            payload: Arc::from(serde_json::value::RawValue::from_string("{}".into()).unwrap()),
        };
        let mut run = Run::queued(&agent, new, NOW);
        if i % 3 == 0 {
            run.status = RunStatus::Completed;
        }
        app.memory.ports.runs.create(&run).await.unwrap();
        runs.push(run);
    }
    runs
}

/// Follows `Link: <…>; rel="next"` from `first` to the end; returns the run ids in order
/// and the number of pages.
async fn walk(app: &App, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (response, body) = send(app, get(&path, TOKEN)).await;
        assert_eq!(response.status(), 200, "{path}: {body}");
        pages += 1;
        let items = body.as_array().unwrap();
        assert!(
            !items.is_empty() || pages == 1,
            "an empty page behind a link"
        );
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if let Some(link) = response.headers().get("link") {
            let link = link.to_str().unwrap();
            let target = link
                .strip_prefix('<')
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("malformed Link {link}"));
            next = Some(target.to_owned());
        }
        assert!(pages < 1000, "pagination does not end");
    }
    (ids, pages)
}

#[tokio::test]
async fn pagination_over_250_runs_sees_every_run_once_newest_first() {
    let app = app();
    let runs = seed_runs(&app, 250).await;
    let newest_first: Vec<String> = runs.iter().rev().map(|r| r.id.to_string()).collect();

    let (ids, pages) = walk(&app, "/api/v1/agents/a1/runs?limit=7").await;
    assert_eq!(ids, newest_first);
    assert_eq!(pages, 250usize.div_ceil(7));

    // The default page size is 50: exactly five pages, the last without a link.
    let (ids, pages) = walk(&app, "/api/v1/agents/a1/runs").await;
    assert_eq!((ids.len(), pages), (250, 5));

    for (status, expected) in [("COMPLETED", 84), ("QUEUED", 166)] {
        let (ids, _) = walk(
            &app,
            &format!("/api/v1/agents/a1/runs?trigger=WEBHOOK&status={status}&limit=9"),
        )
        .await;
        let want: Vec<String> = runs
            .iter()
            .rev()
            .filter(|r| r.status.as_str() == status)
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(ids.len(), expected);
        assert_eq!(ids, want, "{status}");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    // A page that ends exactly at the last run has no link.
    let (ids, pages) = walk(&app, "/api/v1/agents/a1/runs?limit=50").await;
    assert_eq!((ids.len(), pages), (250, 5));
}

#[tokio::test]
async fn run_listing_parameters_out_of_range_are_400() {
    let app = app();
    seed_runs(&app, 3).await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "status=DONE",
        "trigger=webhook",
        "trigger=X-1",
        "trigger=A_VERY_LONG_TRIGGER_TYPE_NAME_OVER_32",
        "cursor=not%20a%20cursor",
    ] {
        let (response, body) =
            send(&app, get(&format!("/api/v1/agents/a1/runs?{query}"), TOKEN)).await;
        assert_eq!(response.status(), 400, "{query}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{query}");
    }
    for query in ["limit=1", "limit=100", "status=QUEUED", "trigger=WEBHOOK"] {
        let (response, body) =
            send(&app, get(&format!("/api/v1/agents/a1/runs?{query}"), TOKEN)).await;
        assert_eq!(response.status(), 200, "{query}: {body}");
    }
    // Another trigger type of the platform is a valid filter that matches no webhook run.
    for trigger in ["USER", "SCHEDULE", "CRON"] {
        let path = format!("/api/v1/agents/a1/runs?trigger={trigger}");
        let (response, body) = send(&app, get(&path, TOKEN)).await;
        assert_eq!(
            (response.status().as_u16(), body),
            (200, json!([])),
            "{trigger}"
        );
    }
}

async fn seed_logs(app: &App, run: &Run, n: u64) {
    for seq in 1..=n {
        let entry = LogEntry {
            run_id: run.id.clone(),
            agent_id: run.agent_id.clone(),
            seq,
            ts: NOW,
            stream: Stream::Stdout,
            level: "info".into(),
            event: "output".into(),
            content: format!("line {seq}"),
        };
        app.memory.ports.logs.append(&[entry]).await.unwrap();
    }
}

#[tokio::test]
async fn logs_are_oldest_first_with_after_and_limit() {
    let app = app();
    let run = create_run(
        &app.memory.ports,
        &agent("a1", "c1", "ws"),
        RunStatus::Running,
    )
    .await;
    seed_logs(&app, &run, 1200).await;
    let path = format!("/api/v1/agents/a1/logs?run_id={}", run.id);

    let (response, body) = send(&app, get(&path, TOKEN)).await;
    assert_eq!(response.status(), 200);
    let entries = body.as_array().unwrap();
    assert_eq!(entries.len(), 100, "default limit");
    assert_eq!(entries[0]["seq"], 1);
    let keys: Vec<&str> = entries[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "run_id", "agent_id", "seq", "ts", "stream", "level", "event", "content",
    ] {
        assert!(keys.contains(&key), "{key} missing");
    }

    let (_, body) = send(&app, get(&format!("{path}&after=995&limit=1000"), TOKEN)).await;
    let seqs: Vec<u64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (996..=1200).collect::<Vec<_>>());

    for query in ["limit=0", "limit=1001", "after=x", "after=-1"] {
        let (response, body) = send(&app, get(&format!("{path}&{query}"), TOKEN)).await;
        assert_eq!(response.status(), 400, "{query}: {body}");
    }
    let (response, body) = send(&app, get("/api/v1/agents/a1/logs?after=3", TOKEN)).await;
    assert_eq!(response.status(), 400, "after without run_id: {body}");
    assert!(body["message"].as_str().unwrap().contains("run_id"));
}

#[tokio::test]
async fn every_read_path_refuses_another_workspaces_token() {
    let app = app();
    let run = create_run(
        &app.memory.ports,
        &agent("a1", "c1", "ws"),
        RunStatus::Queued,
    )
    .await;
    seed_logs(&app, &run, 3).await;
    let reads = [
        format!("/api/v1/runs/{}", run.id),
        "/api/v1/agents/a1/runs".to_owned(),
        "/api/v1/agents/a1/logs".to_owned(),
        format!("/api/v1/agents/a1/logs?run_id={}", run.id),
    ];
    for path in &reads {
        let (response, body) = send(&app, get(path, OTHER_TOKEN)).await;
        assert_eq!(response.status(), 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
        let (response, _) = send(&app, get(path, TOKEN)).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    // Their own agent cannot reach into this workspace's run either.
    let path = format!("/api/v1/agents/b1/logs?run_id={}", run.id);
    let (response, _) = send(&app, get(&path, OTHER_TOKEN)).await;
    assert_eq!(response.status(), 404);

    let cancel = |token: &str| {
        Request::post(format!("/api/v1/runs/{}/cancel", run.id))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (response, _) = send(&app, cancel(OTHER_TOKEN)).await;
    assert_eq!(response.status(), 404);
    let stored = app.memory.ports.runs.get(&run.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        RunStatus::Queued,
        "the refused cancel changed the run"
    );
    let (response, body) = send(&app, cancel(TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body["status"], "CANCELLED");
}

#[tokio::test]
async fn monitoring_without_a_valid_token_is_401() {
    let app = app();
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Basic dG9rZW4td3M="),
        Some("Bearer "),
    ] {
        let mut request = Request::get("/api/v1/agents/a1/runs");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let (response, body) = send(&app, request.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), 401, "{auth:?}");
        assert!(body["error"].is_string());
    }
}

fn internal(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("x-internal-token", token);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn internal_webhook_secret_is_200_403_404_as_specified() {
    let mut no_secret = agent("nosecret", "c1", "ws");
    no_secret.webhook_secret = None;
    let app = app_with(vec![agent("a1", "c1", "ws"), no_secret], config());
    let base = "/api/v1/internal/agents";

    for path in [
        format!("{base}/a1/webhook-secret"),
        format!("{base}/a1/webhook-secret?crew_id=c1"),
        format!("{base}/a1/webhook-secret?crew_id="),
    ] {
        let (response, body) = send(&app, internal(&path, Some(INTERNAL))).await;
        assert_eq!(response.status(), 200, "{path}: {body}");
        assert_eq!(body, serde_json::json!({"webhook_secret": SECRET}));
    }
    // The token is checked first: even for agents that do not exist.
    for token in [None, Some("wrong"), Some(""), Some("internal-toke")] {
        for agent in ["a1", "ghost"] {
            let path = format!("{base}/{agent}/webhook-secret");
            let (response, body) = send(&app, internal(&path, token)).await;
            assert_eq!(response.status(), 403, "{token:?} {agent}");
            assert_eq!(body["error"], "forbidden");
        }
    }
    let (response, _) = send(
        &app,
        internal(&format!("{base}/a1/webhook-secret?x=1&x=2"), None),
    )
    .await;
    assert_eq!(response.status(), 403);
    for path in [
        format!("{base}/ghost/webhook-secret"),
        format!("{base}/a1/webhook-secret?crew_id=c2"),
        format!("{base}/nosecret/webhook-secret"),
        format!("{base}/bad%20id/webhook-secret"),
    ] {
        let (response, body): (_, Value) = send(&app, internal(&path, Some(INTERNAL))).await;
        assert_eq!(response.status(), 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
}
