//! Two workspaces with colliding agent and crew ids (issue 16 item 4), end to end on the real
//! binary: nothing of one is visible, triggerable or writable from the other.

use std::time::Duration;

use e2e_tests::{Runner, SECRET};
use serde_json::{Value, json};

const INTERNAL: &str = "internal-token";
const TOKEN_A: &str = "token-of-workspace-a";
const TOKEN_B: &str = "token-of-workspace-b";
const SECRET_B: &str = "secret-of-workspace-b-0123456789abcdef";
const LIMIT: Duration = Duration::from_secs(60);

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "{INTERNAL}"

[[tokens]]
token = "{TOKEN_A}"
workspace_id = "ws-a"

[[tokens]]
token = "{TOKEN_B}"
workspace_id = "ws-b"

[[agents]]
id = "shared"
crew_id = "ops"
workspace_id = "ws-a"
command = ["sh", "-c", "echo from-a > marker.txt; echo wrote"]
webhook_secret = "{SECRET}"
"#
    )
}

async fn put_agent(runner: &Runner, id: &str, body: Value) -> (u16, Value) {
    let response = runner
        .http
        .put(format!("{}/api/v1/internal/agents/{id}", runner.base))
        .header("x-internal-token", INTERNAL)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn completed(runner: &Runner, crew: &str, agent: &str, secret: &str, token: &str) -> String {
    let (status, answer) = runner.trigger(crew, agent, secret, "{}").await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap().to_owned();
    let run = runner.wait_for_run(&run_id, token, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    run_id
}

#[tokio::test]
async fn an_agent_id_of_one_workspace_never_serves_another() {
    let runner = Runner::start(&config()).unwrap();
    let run_a = completed(&runner, "ops", "shared", SECRET, TOKEN_A).await;

    // Registering A's agent id under B is refused: the agent does not move.
    let body_b = json!({"crew_id": "ops", "workspace_id": "ws-b",
                        "command": ["sh", "-c", "cat marker.txt 2>/dev/null || echo absent"],
                        "webhook_secret": SECRET_B});
    let (status, answer) = put_agent(&runner, "shared", body_b.clone()).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "agent_in_other_workspace");
    assert_eq!(
        runner
            .trigger("ops", "shared", SECRET_B, "{}")
            .await
            .unwrap()
            .0,
        401
    );
    completed(&runner, "ops", "shared", SECRET, TOKEN_A).await;

    // B's token sees nothing of A's agent.
    for path in [
        "/api/v1/agents/shared/runs".to_owned(),
        "/api/v1/agents/shared/logs".to_owned(),
        format!("/api/v1/runs/{run_a}"),
    ] {
        let (status, answer) = runner.get_json(&path, TOKEN_B).await.unwrap();
        assert_eq!(status, 404, "{path}: {answer}");
    }

    // Deleted in A and registered in B, the id starts with no history, and A's secret is gone.
    let deleted = runner
        .http
        .delete(format!("{}/api/v1/internal/agents/shared", runner.base))
        .header("x-internal-token", INTERNAL)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let (status, answer) = put_agent(&runner, "shared", body_b).await;
    assert_eq!(status, 201, "{answer}");
    for path in ["/api/v1/agents/shared/runs", "/api/v1/agents/shared/logs"] {
        let (status, answer) = runner.get_json(path, TOKEN_B).await.unwrap();
        assert_eq!((status, answer), (200, json!([])), "{path}");
    }
    assert_eq!(
        runner
            .trigger("ops", "shared", SECRET, "{}")
            .await
            .unwrap()
            .0,
        401
    );
    let run_b = completed(&runner, "ops", "shared", SECRET_B, TOKEN_B).await;
    let (status, _) = runner
        .get_json(&format!("/api/v1/runs/{run_b}"), TOKEN_A)
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Same crew id, other workspace: another working directory. B's agent does not find the
    // file A's agent wrote.
    let logs = runner.run_logs("shared", &run_b, TOKEN_B).await.unwrap();
    let lines: Vec<&str> = logs.iter().filter_map(|e| e["content"].as_str()).collect();
    assert!(lines.contains(&"absent"), "{lines:?}");
    assert!(runner.crew_dir("ws-a", "ops").join("marker.txt").exists());
    assert!(!runner.crew_dir("ws-b", "ops").join("marker.txt").exists());
}
