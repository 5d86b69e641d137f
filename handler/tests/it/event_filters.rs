//! `docs/event-filters.md` at the router: a delivery the agent's `events` skip answers
//! `202 {"status":"filtered","run_id":…}` with `Location`, is recorded FILTERED and never queued,
//! keeps its dedup reservation, spends a rate-limit token and counts against no cap.

use crewship_core::agent::Agent;
use crewship_core::event_filter::EventFilter;
use crewship_core::run::RunStatus;

use crate::common::ingress::*;
use crate::common::*;

fn pull_requests_opened(id: &str) -> Agent {
    let mut agent = agent(id, "c1", "ws");
    agent.events = EventFilter::from_spec(Some(vec!["pull_request.opened".into()])).unwrap();
    agent
}

/// A GitHub delivery of `pull_request` with `action`, signed the GitHub way.
fn github(agent: &str, action: &str, delivery: &str) -> axum::http::Request<axum::body::Body> {
    // The delivery id in the body too: identical bodies signed without a timestamp are one
    // delivery by their signature.
    let body = format!(r#"{{"action":"{action}","delivery":"{delivery}"}}"#);
    let signature = Signer::new(SECRET).github(body.as_bytes());
    post(
        "c1",
        agent,
        &[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &signature),
            ("x-github-event", "pull_request"),
            ("x-github-delivery", delivery),
        ],
        body,
    )
}

#[tokio::test]
async fn a_skipped_delivery_answers_filtered_and_is_recorded_but_never_queued() {
    let app = app_with(vec![pull_requests_opened("a1")], config());
    let (response, body) = send(&app, github("a1", "labeled", "d-1")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "filtered");
    let run_id = body["run_id"].as_str().unwrap();
    assert_eq!(
        response.headers()["location"],
        format!("/api/v1/runs/{run_id}").as_str()
    );
    assert_eq!(response.headers()["ratelimit-limit"], "600");
    assert!(
        app.memory.queue.is_empty(),
        "a FILTERED run has no queue message"
    );

    let runs = runs_of(&app, "a1").await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.id.as_str(), run_id);
    assert_eq!(run.status, RunStatus::Filtered);
    assert_eq!(run.event, "pull_request.labeled");
    assert_eq!(run.duration_ms, Some(0));
    assert_eq!(run.finished_at, Some(run.created_at));
    assert!(run.started_at.is_none());

    let (response, listed) = send(&app, get("/api/v1/agents/a1/runs?status=FILTERED", TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(listed[0]["id"], run_id);
    assert_eq!(listed[0]["status"], "FILTERED");
}

#[tokio::test]
async fn a_matching_delivery_is_accepted_and_queued() {
    let app = app_with(vec![pull_requests_opened("a1")], config());
    let (response, body) = send(&app, github("a1", "opened", "d-1")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(app.memory.queue.len(), 1);
    assert_eq!(runs_of(&app, "a1").await[0].status, RunStatus::Queued);
}

#[tokio::test]
async fn a_resent_filtered_delivery_answers_the_same_run() {
    let app = app_with(vec![pull_requests_opened("a1")], config());
    let (_, first) = send(&app, github("a1", "labeled", "d-1")).await;
    let (response, again) = send(&app, github("a1", "labeled", "d-1")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(again["run_id"], first["run_id"]);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(runs_of(&app, "a1").await.len(), 1);
}

#[tokio::test]
async fn filtered_runs_count_against_no_cap_but_spend_the_rate_limit() {
    let mut capped = pull_requests_opened("a1");
    capped.max_queued_runs = 1;
    capped.rate_limit_per_min = 3;
    let app = app_with(vec![capped], config());
    let (response, _) = send(&app, github("a1", "opened", "d-0")).await;
    assert_eq!(response.status(), 202);
    // The queued cap is full: a matching delivery is refused, a skipped one is not.
    let (response, body) = send(&app, github("a1", "opened", "d-1")).await;
    assert_eq!(
        (response.status().as_u16(), &body["error"]),
        (429, &"queue_full".into())
    );
    let (response, body) = send(&app, github("a1", "labeled", "d-2")).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "filtered");
    // Three tokens a minute: the opened run, the queue_full refusal (refunded) and the
    // filtered one leave one.
    let (response, _) = send(&app, github("a1", "labeled", "d-3")).await;
    assert_eq!(response.status(), 202);
    let (response, body) = send(&app, github("a1", "labeled", "d-4")).await;
    assert_eq!(response.status(), 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn a_form_encoded_github_delivery_is_filtered_by_its_action() {
    let app = app_with(vec![pull_requests_opened("a1")], config());
    let form = "payload=%7B%22action%22%3A%22closed%22%7D";
    let signature = Signer::new(SECRET).github(form.as_bytes());
    let request = post(
        "c1",
        "a1",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-hub-signature-256", &signature),
            ("x-github-event", "pull_request"),
        ],
        form,
    );
    let (response, body) = send(&app, request).await;
    assert_eq!(response.status(), 202, "{body}");
    assert_eq!(body["status"], "filtered");
}
