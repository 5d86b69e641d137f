//! Talking to `handler-lambda` through its function URL, as a deployer, a sender and a watcher
//! would: register an agent (internal token; the answer carries the generated webhook secret
//! once), send a signed webhook, read a run and its logs (monitoring token).

use std::time::Duration;

use crewship_core::signer::Signer;
use crewship_test_support::fixture::TOKEN;
use serde_json::Value;

use crate::emulator::Lambda;
use crate::stack::INTERNAL_TOKEN;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// `PUT /api/v1/internal/agents/{id}`; the webhook secret the handler generated.
pub async fn register_agent(lambda: &Lambda, agent: &Value) -> String {
    let id = agent["id"].as_str().expect("an agent id");
    let url = format!(
        "{}/api/v1/internal/agents/{id}",
        lambda.function_url("handler-lambda")
    );
    let response = http()
        .put(url)
        .header("X-Internal-Token", INTERNAL_TOKEN)
        .json(agent)
        .send()
        .await
        .expect("PUT agent");
    let (status, body) = answer(response).await;
    assert_eq!(status, 201, "registering {id}: {body}");
    body["webhook_secret"]
        .as_str()
        .expect("the generated webhook secret, once")
        .to_owned()
}

/// A signed webhook to the agent's trigger URL; the run id of the `202`. Equal bodies are one
/// delivery (deduplicated), so `n` tells them apart.
pub async fn trigger(lambda: &Lambda, crew: &str, agent: &str, secret: &str, n: u32) -> String {
    let body = format!(r#"{{"event":"push","data":{{"n":{n}}}}}"#);
    let url = format!(
        "{}/api/v1/webhooks/{crew}/{agent}/trigger",
        lambda.function_url("handler-lambda")
    );
    let response = http()
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "X-Signature",
            Signer::new(secret).signature(body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .expect("POST webhook");
    let (status, answer) = answer(response).await;
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().expect("a run id").to_owned()
}

async fn monitoring(lambda: &Lambda, path: &str) -> Value {
    let url = format!("{}{path}", lambda.function_url("handler-lambda"));
    let response = http()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    let (status, body) = answer(response).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `GET /api/v1/runs/{id}`.
pub async fn run(lambda: &Lambda, id: &str) -> Value {
    monitoring(lambda, &format!("/api/v1/runs/{id}")).await
}

/// `GET /api/v1/runs/{id}/callbacks`.
pub async fn callbacks(lambda: &Lambda, id: &str) -> Value {
    monitoring(lambda, &format!("/api/v1/runs/{id}/callbacks")).await
}

/// The run's log lines' contents, oldest first (`GET /api/v1/agents/{agent}/logs?run_id=`).
pub async fn log_lines(lambda: &Lambda, agent: &str, run: &str) -> Vec<String> {
    let entries = monitoring(lambda, &format!("/api/v1/agents/{agent}/logs?run_id={run}")).await;
    entries
        .as_array()
        .expect("a list of log entries")
        .iter()
        .map(|e| e["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Whether every run is in a terminal state.
pub async fn all_finished(lambda: &Lambda, ids: &[String]) -> bool {
    for id in ids {
        let status = run(lambda, id).await["status"].as_str().unwrap().to_owned();
        if matches!(status.as_str(), "QUEUED" | "RUNNING") {
            return false;
        }
    }
    true
}
