//! No secret, token or signature reaches a log line, even at `RUST_LOG=trace` (issue 16, item
//! 7): the real binary is driven through a signed and a legacy trigger, a WebSocket `auth`
//! frame, the management API and a rotation, and everything it printed is searched for them.

use std::time::Duration;

use e2e_tests::{Runner, StartOptions, sign};
use serde_json::{Value, json};

const INTERNAL: &str = "internal-token-9f8e7d6c5b4a39281706";
const MONITOR: &str = "monitor-token-1a2b3c4d5e6f7a8b9c0d";
const SECRET: &str = "webhook-secret-0123456789abcdef01234567";
const PUT_SECRET: &str = "put-secret-fedcba9876543210fedcba98765";
const ENV_VALUE: &str = "env-value-5e5e5e5e5e5e5e5e5e5e";

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "{INTERNAL}"

[[tokens]]
token = "{MONITOR}"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "cat > /dev/null; echo done"]
webhook_secret = "{SECRET}"
env = {{ API_KEY = "{ENV_VALUE}" }}
"#
    )
}

#[tokio::test]
async fn nothing_secret_is_logged_at_trace_level() {
    let runner = Runner::start_opts(
        &config(),
        &StartOptions {
            rust_log: Some("trace"),
            ..StartOptions::default()
        },
    )
    .unwrap();
    let http = &runner.http;
    let url = |path: &str| format!("{}{path}", runner.base);
    let mut secrets: Vec<String> = [INTERNAL, MONITOR, SECRET, PUT_SECRET, ENV_VALUE]
        .map(String::from)
        .to_vec();

    // Signed trigger, then the legacy plaintext header.
    let body = r#"{"event":"push","data":{"n":1}}"#;
    secrets.push(sign(SECRET, body.as_bytes()));
    let (status, answer) = runner.trigger("crew", "echo", SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap().to_owned();
    let legacy = http
        .post(runner.trigger_url("crew", "echo"))
        .header("content-type", "application/json")
        .header("x-webhook-secret", SECRET)
        .body(r#"{"event":"legacy"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 202);

    // WebSocket: the token in the first frame, then a subscription and the run's frames.
    let mut ws = runner.ws(None).await.unwrap().expect("upgraded");
    ws.send_json(json!({"type": "auth", "token": MONITOR}))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap(),
        Some(json!({"type": "authenticated"}))
    );
    ws.subscribe("ws", None).await.unwrap();
    let (status, _) = runner.trigger("crew", "echo", SECRET, body).await.unwrap();
    assert_eq!(status, 202);
    runner
        .wait_for_run(&run_id, MONITOR, Duration::from_secs(30))
        .await
        .unwrap();

    // Management: register with a secret in the body, read the secret, rotate it, list runs.
    let put = http
        .put(url("/api/v1/internal/agents/second"))
        .header("x-internal-token", INTERNAL)
        .json(&json!({
            "crew_id": "crew", "workspace_id": "ws", "command": ["true"],
            "webhook_secret": PUT_SECRET, "env": {"TOKEN": ENV_VALUE},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
    let read: Value = http
        .get(url("/api/v1/internal/agents/echo/webhook-secret"))
        .header("x-internal-token", INTERNAL)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["webhook_secret"], SECRET);
    let rotated: Value = http
        .post(url("/api/v1/agents/echo/webhook-secret/rotate"))
        .bearer_auth(MONITOR)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["webhook_secret"].as_str().unwrap().to_owned();
    let (status, _) = runner
        .trigger("crew", "echo", &new_secret, body)
        .await
        .unwrap();
    assert_eq!(status, 202);
    secrets.push(sign(&new_secret, body.as_bytes()));
    secrets.push(new_secret);
    let (status, _) = runner
        .get_json("/api/v1/agents/echo/runs", MONITOR)
        .await
        .unwrap();
    assert_eq!(status, 200);
    drop(ws);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // tungstenite also logs frames as hex.
    let hex_forms: Vec<String> = secrets.iter().map(hex::encode).collect();
    secrets.extend(hex_forms);
    let output = runner.output();
    // The capture is at trace level (it is not vacuous): our own trace and debug lines are in.
    assert!(
        output.contains("TRACE") || output.contains("DEBUG"),
        "{output}"
    );
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "`{secret}` appears in the log:\n{}",
            output
                .lines()
                .filter(|l| l.contains(secret.as_str()))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
