//! One signed webhook becomes one finished agent run, end to end, on the real binary with real
//! child processes as agents.

use std::time::Duration;

use e2e_tests::{Runner, SECRET, TOKEN, process_alive, read_pid};

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[executor]
kill_grace_secs = 1

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo agent-says-hello; cat"]
webhook_secret = "{SECRET}"

[[agents]]
id = "exit7"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo failing >&2; exit 7"]
webhook_secret = "{SECRET}"

[[agents]]
id = "sleeper"
crew_id = "crew"
workspace_id = "ws"
timeout_secs = 2
command = ["sh", "-c", "sleep 300 & echo $! > grandchild.pid; echo $$ > child.pid; wait"]
webhook_secret = "{SECRET}"
"#
    )
}

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn signed_webhook_runs_the_agent_and_its_output_is_logged() {
    let runner = Runner::start(&config()).unwrap();
    let body = r#"{"event":"push","source":"ci","data":{"repo":"org/repo","n":42}}"#;
    let (status, answer) = runner.trigger("crew", "echo", SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let run_id = answer["run_id"].as_str().unwrap();

    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["trigger_type"], "WEBHOOK");
    assert_eq!(run["chat_id"], "webhook-echo");
    assert_eq!(run["event"], "push");
    assert!(run["duration_ms"].is_u64() && run["finished_at"].is_string());

    let logs = runner.run_logs("echo", run_id, TOKEN).await.unwrap();
    let lines: Vec<&str> = logs
        .iter()
        .map(|e| e["content"].as_str().unwrap())
        .collect();
    assert_eq!(lines[0], "agent-says-hello");
    assert!(
        lines.contains(&"Data: {repo: org/repo, n: 42}"),
        "{lines:?}"
    );
    assert!(lines.contains(&"Event: push"), "{lines:?}");
    let seqs: Vec<u64> = logs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn agent_exit_code_is_recorded_on_failure() {
    let runner = Runner::start(&config()).unwrap();
    let (status, answer) = runner.trigger("crew", "exit7", SECRET, "{}").await.unwrap();
    assert_eq!(status, 202);
    let run = runner
        .wait_for_run(answer["run_id"].as_str().unwrap(), TOKEN, LIMIT)
        .await
        .unwrap();
    assert_eq!(run["status"], "FAILED");
    assert_eq!(run["exit_code"], 7);
    assert!(
        run["error_message"].as_str().unwrap().contains("code 7"),
        "{run}"
    );
}

#[tokio::test]
async fn deadline_ends_the_run_as_timeout_and_kills_the_process_tree() {
    let runner = Runner::start(&config()).unwrap();
    let (status, answer) = runner
        .trigger("crew", "sleeper", SECRET, "{}")
        .await
        .unwrap();
    assert_eq!(status, 202);
    let crew_dir = runner.crew_dir("ws", "crew");
    let child = read_pid(&crew_dir.join("child.pid")).await.unwrap();
    let grandchild = read_pid(&crew_dir.join("grandchild.pid")).await.unwrap();
    assert!(process_alive(grandchild));

    let run = runner
        .wait_for_run(answer["run_id"].as_str().unwrap(), TOKEN, LIMIT)
        .await
        .unwrap();
    assert_eq!(run["status"], "TIMEOUT", "{run}");
    assert_eq!(run["exit_code"], serde_json::Value::Null);
    assert_eq!(run["error_message"], "timed out after 2s");
    assert!(!process_alive(child), "agent {child} survived its deadline");
    assert!(
        !process_alive(grandchild),
        "grandchild {grandchild} survived its deadline"
    );
}

#[tokio::test]
async fn wrong_signature_and_unknown_agent_are_refused_alike() {
    let runner = Runner::start(&config()).unwrap();
    let (s1, a1) = runner
        .trigger("crew", "echo", "wrong-secret", "{}")
        .await
        .unwrap();
    let (s2, a2) = runner
        .trigger("crew", "nobody", SECRET, "{}")
        .await
        .unwrap();
    let (s3, a3) = runner
        .trigger("other-crew", "echo", SECRET, "{}")
        .await
        .unwrap();
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(a1, a2);
    assert_eq!(a1, a3);
    assert_eq!(a1["error"], "invalid_credentials");
}
