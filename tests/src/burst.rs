//! Bursts of signed webhooks for the load tests: many distinct deliveries, sent from a fixed
//! number of concurrent connections, each answer kept with the delivery it belongs to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::sign;

/// One webhook delivery: where it goes, its body and its delivery id.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub crew: String,
    pub agent: String,
    pub secret: String,
    /// What the agent finds in its message and appends to the marker file.
    pub marker: String,
    pub body: String,
    pub idempotency_key: String,
}

impl Delivery {
    /// A delivery whose body and key carry `marker`, so no two markers sign alike.
    pub fn new(crew: &str, agent: &str, secret: &str, marker: String) -> Self {
        Self {
            crew: crew.into(),
            agent: agent.into(),
            secret: secret.into(),
            body: format!(
                r#"{{"event":"burst","source":"burst-test","data":{{"marker":"{marker}"}}}}"#
            ),
            idempotency_key: format!("key-{marker}"),
            marker,
        }
    }
}

/// The server's answer to one delivery.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub run_id: Option<String>,
    pub replayed: bool,
}

/// Sends every delivery once, from `connections` concurrent senders sharing one connection pool,
/// and returns the answers in delivery order. Transport errors fail the burst.
pub async fn send_all(
    base: &str,
    deliveries: Vec<Delivery>,
    connections: usize,
) -> anyhow::Result<Vec<Answer>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (http, deliveries, next, base) = (
            http.clone(),
            deliveries.clone(),
            next.clone(),
            base.to_owned(),
        );
        senders.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(d) = deliveries.get(i) else {
                    return anyhow::Ok(answers);
                };
                let response = http
                    .post(format!(
                        "{base}/api/v1/webhooks/{}/{}/trigger",
                        d.crew, d.agent
                    ))
                    .header("content-type", "application/json")
                    .header("idempotency-key", &d.idempotency_key)
                    .header("x-signature", sign(&d.secret, d.body.as_bytes()))
                    .body(d.body.clone())
                    .send()
                    .await?;
                let status = response.status().as_u16();
                let replayed = response.headers().contains_key("idempotent-replayed");
                let json: Value = response.json().await.unwrap_or(Value::Null);
                let run_id = json["run_id"].as_str().map(str::to_owned);
                answers.push((
                    i,
                    Answer {
                        status,
                        run_id,
                        replayed,
                    },
                ));
            }
        }));
    }
    let mut all: Vec<Option<Answer>> = vec![None; deliveries.len()];
    for sender in senders {
        for (i, answer) in sender.await?? {
            all[i] = Some(answer);
        }
    }
    Ok(all
        .into_iter()
        .map(|a| a.expect("every delivery answered"))
        .collect())
}

/// Polls every run until it is terminal, `connections` requests at a time, and returns each
/// run's final JSON by id. Fails when runs are still open after `limit`.
pub async fn wait_all_terminal(
    base: &str,
    token: &str,
    run_ids: &[String],
    connections: usize,
    limit: std::time::Duration,
) -> anyhow::Result<std::collections::HashMap<String, Value>> {
    use futures_util::StreamExt;

    let http = reqwest::Client::new();
    let start = std::time::Instant::now();
    let mut done = std::collections::HashMap::new();
    let mut open: Vec<String> = run_ids.to_vec();
    while !open.is_empty() {
        let results: Vec<anyhow::Result<(String, Value)>> =
            futures_util::stream::iter(open.iter().cloned())
                .map(|id| {
                    let http = http.clone();
                    let url = format!("{base}/api/v1/runs/{id}");
                    async move {
                        let run: Value = http
                            .get(url)
                            .bearer_auth(token)
                            .send()
                            .await?
                            .error_for_status()?
                            .json()
                            .await?;
                        Ok((id, run))
                    }
                })
                .buffer_unordered(connections)
                .collect()
                .await;
        let mut still = Vec::new();
        for result in results {
            let (id, run) = result?;
            if matches!(run["status"].as_str(), Some("QUEUED" | "RUNNING")) {
                still.push(id);
            } else {
                done.insert(id, run);
            }
        }
        open = still;
        if !open.is_empty() {
            if start.elapsed() > limit {
                anyhow::bail!("{} runs still open after {limit:?}", open.len());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    Ok(done)
}
