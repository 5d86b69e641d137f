//! Replay end to end on the real binary (issue 20): a FAILED run replayed — over HTTP and with
//! `local-runner runs replay` — completes as a new run linked to it; bulk replay by status
//! replays exactly the matching runs; a replay over the agent's rate limit gets the trigger's
//! `429`; another workspace's token gets `404`.

use std::time::Duration;

use e2e_tests::cli::run_cli;
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn config() -> String {
    format!(
        r#"
[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[tokens]]
token = "other-token"
workspace_id = "other"

# Fails the first time, succeeds once the marker file exists.
[[agents]]
id = "flaky"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "cat >/dev/null; if [ -f flaky.marker ]; then echo second-time; else touch flaky.marker; exit 3; fi"]
webhook_secret = "{SECRET}"

# Fails every message that mentions "fail".
[[agents]]
id = "picky"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "if grep -q fail; then exit 1; fi"]
webhook_secret = "{SECRET}"

[[agents]]
id = "limited"
crew_id = "crew"
workspace_id = "ws"
command = ["true"]
webhook_secret = "{SECRET}"
rate_limit_per_min = 1
"#
    )
}

async fn post(
    runner: &Runner,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = runner
        .http
        .post(format!("{}{path}", runner.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

async fn finished_run(runner: &Runner, agent: &str, body: &str) -> Value {
    let (status, answer) = runner.trigger("crew", agent, SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    runner
        .wait_for_run(answer["run_id"].as_str().unwrap(), TOKEN, LIMIT)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failed_run_replayed_completes_as_a_new_linked_run() {
    let runner = Runner::start(&config()).unwrap();
    let original = finished_run(&runner, "flaky", r#"{"event":"deploy","data":{"n":1}}"#).await;
    assert_eq!(original["status"], "FAILED", "{original}");
    let original_id = original["id"].as_str().unwrap();
    let path = format!("/api/v1/runs/{original_id}/replay");

    let (status, body, _) = post(&runner, &path, "other-token", "").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    let (status, body, headers) = post(&runner, &path, TOKEN, "").await;
    assert_eq!(status, 202, "{body}");
    let id = body["run_id"].as_str().unwrap();
    assert_eq!(headers["location"], format!("/api/v1/runs/{id}").as_str());
    let replay = runner.wait_for_run(id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(replay["status"], "COMPLETED", "{replay}");
    assert_eq!(replay["trigger_type"], "REPLAY");
    assert_eq!(replay["replay_of"], original_id);
    assert_eq!(replay["event"], "deploy");
    assert_eq!(replay["payload"], original["payload"]);
    assert!(replay["delivery_id"].is_null());
    let lines: Vec<String> = runner
        .run_logs("flaky", id, TOKEN)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e["content"].as_str().map(str::to_owned))
        .collect();
    assert!(lines.iter().any(|l| l == "second-time"), "{lines:?}");

    // The same from the command line.
    let env = [
        ("CREWSHIP_URL", runner.base.as_str()),
        ("CREWSHIP_TOKEN", TOKEN),
    ];
    let out = run_cli(&["runs", "replay", original_id], &env)
        .await
        .unwrap();
    assert!(out.success, "{out:?}");
    let answer = out.json().unwrap();
    let cli_id = answer["run_id"].as_str().unwrap();
    assert!(out.stderr.contains(cli_id), "{out:?}");
    let replay = runner.wait_for_run(cli_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(
        (
            replay["trigger_type"].as_str(),
            replay["replay_of"].as_str()
        ),
        (Some("REPLAY"), Some(original_id))
    );
    let refused = run_cli(&["runs", "replay", "run_unknown"], &env)
        .await
        .unwrap();
    assert!(
        !refused.success && refused.stderr.contains("not_found"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn bulk_replay_by_status_replays_exactly_the_failed_runs() {
    let runner = Runner::start(&config()).unwrap();
    let mut failed = Vec::new();
    for body in [
        r#"{"k":"fail-1"}"#,
        r#"{"k":"ok-1"}"#,
        r#"{"k":"fail-2"}"#,
        r#"{"k":"ok-2"}"#,
    ] {
        let run = finished_run(&runner, "picky", body).await;
        let want = if body.contains("fail") {
            "FAILED"
        } else {
            "COMPLETED"
        };
        assert_eq!(run["status"], want, "{run}");
        if want == "FAILED" {
            failed.push(run["id"].as_str().unwrap().to_owned());
        }
    }
    let (status, answer, _) = post(
        &runner,
        "/api/v1/agents/picky/runs/replay",
        TOKEN,
        r#"{"status":"FAILED"}"#,
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["more"], false);
    let mut originals: Vec<String> = answer["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["replay_of"].as_str().unwrap().to_owned())
        .collect();
    originals.sort();
    failed.sort();
    assert_eq!(originals, failed);
    for r in answer["replayed"].as_array().unwrap() {
        let run = runner
            .wait_for_run(r["run_id"].as_str().unwrap(), TOKEN, LIMIT)
            .await
            .unwrap();
        assert_eq!(
            (run["trigger_type"].as_str(), run["status"].as_str()),
            (Some("REPLAY"), Some("FAILED"))
        );
    }
    let (_, replays) = runner
        .get_json("/api/v1/agents/picky/runs?trigger=REPLAY", TOKEN)
        .await
        .unwrap();
    assert_eq!(replays.as_array().unwrap().len(), 2, "{replays}");

    let (status, answer, _) = post(
        &runner,
        "/api/v1/agents/picky/runs/replay",
        TOKEN,
        r#"{"since":"soon"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_filter"))
    );
}

#[tokio::test]
async fn a_replay_over_the_rate_limit_gets_the_triggers_429() {
    let runner = Runner::start(&config()).unwrap();
    let run = finished_run(&runner, "limited", "{}").await;
    let path = format!("/api/v1/runs/{}/replay", run["id"].as_str().unwrap());
    let (status, body, headers) = post(&runner, &path, TOKEN, "").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(headers["ratelimit-limit"], "1");
}
