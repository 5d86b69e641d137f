//! Event filters end to end on the real binary (issue 20): a GitHub `pull_request.labeled`
//! delivery to an agent filtered to `pull_request.opened` is FILTERED and starts no process; a
//! `pull_request.opened` one runs. The agent appends every message it gets to a file, so the
//! file says exactly which deliveries started a process.

use std::time::Duration;

use crewship_core::signer::Signer;
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::Value;

const CONFIG: &str = r#"
[[tokens]]
token = "test-token"
workspace_id = "ws"

[[agents]]
id = "prs"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "cat >> ran.log"]
webhook_secret = "test-secret-0123456789abcdef0123456789abcdef"
events = ["pull_request.opened"]
"#;

/// Sends a GitHub `pull_request` delivery with `action`, signed as GitHub signs.
async fn github(runner: &Runner, action: &str, delivery: &str) -> (u16, Value) {
    let body = format!(r#"{{"action":"{action}","number":7,"delivery":"{delivery}"}}"#);
    let response = runner
        .http
        .post(runner.trigger_url("crew", "prs"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            Signer::new(SECRET).github(body.as_bytes()),
        )
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", delivery)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_labeled_pull_request_is_filtered_and_an_opened_one_runs() {
    let runner = Runner::start(CONFIG).unwrap();
    let (status, labeled) = github(&runner, "labeled", "d-labeled").await;
    assert_eq!(status, 202, "{labeled}");
    assert_eq!(labeled["status"], "filtered");
    let labeled_id = labeled["run_id"].as_str().unwrap();

    let (status, opened) = github(&runner, "opened", "d-opened").await;
    assert_eq!(status, 202, "{opened}");
    assert_eq!(opened["status"], "accepted");
    let opened_run = runner
        .wait_for_run(
            opened["run_id"].as_str().unwrap(),
            TOKEN,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(opened_run["status"], "COMPLETED", "{opened_run}");

    let (_, filtered) = runner
        .get_json(&format!("/api/v1/runs/{labeled_id}"), TOKEN)
        .await
        .unwrap();
    assert_eq!(filtered["status"], "FILTERED", "{filtered}");
    assert_eq!(filtered["event"], "pull_request.labeled");
    assert_eq!(filtered["duration_ms"], 0);
    assert!(filtered["started_at"].is_null(), "{filtered}");

    // Only the opened delivery started a process (the runs share one agent slot, in order: a
    // queued labeled run would have run before the opened one finished).
    let ran = std::fs::read_to_string(runner.crew_dir("ws", "crew").join("ran.log")).unwrap();
    assert_eq!(ran.matches("Webhook event received").count(), 1, "{ran}");
    assert!(ran.contains("Event: pull_request.opened"), "{ran}");
    assert!(!ran.contains("labeled"), "{ran}");

    let (status, listed) = runner
        .get_json("/api/v1/agents/prs/runs?status=FILTERED", TOKEN)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [labeled_id]);

    // GitHub's redelivery of the skipped delivery answers the same run.
    let (status, again) = github(&runner, "labeled", "d-labeled").await;
    assert_eq!((status, again["run_id"].as_str()), (202, Some(labeled_id)));
}
