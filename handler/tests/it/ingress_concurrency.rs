//! `docs/webhooks.md`, Deduplication: the reservation is atomic, so identical requests racing
//! create exactly one run.

use std::collections::HashSet;

use crate::common::ingress::*;
use crate::common::*;

const N: usize = 50;

async fn fire(app: &App, bodies: Vec<String>) -> Vec<(u16, String, bool)> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let router = app.router.clone();
            tokio::spawn(async move {
                use http_body_util::BodyExt;
                use tower::ServiceExt;
                let response = router
                    .oneshot(trigger_request("c1", "a1", &body))
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let replayed = response.headers().contains_key("idempotent-replayed");
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                (
                    status,
                    json["run_id"].as_str().unwrap_or("").to_owned(),
                    replayed,
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_signed_requests_in_parallel_create_one_run() {
    let app = app();
    let results = fire(&app, vec![r#"{"same":"delivery"}"#.to_owned(); N]).await;
    assert!(
        results.iter().all(|(status, _, _)| *status == 202),
        "{results:?}"
    );
    let ids: HashSet<_> = results.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 1, "all answers name the same run");
    assert_eq!(
        results.iter().filter(|(_, _, replayed)| !replayed).count(),
        1
    );
    assert_eq!(runs_of(&app, "a1").await.len(), 1);
    assert_eq!(app.memory.queue.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_distinct_signed_requests_in_parallel_create_fifty_runs() {
    let app = app();
    let bodies = (0..N).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let results = fire(&app, bodies).await;
    assert!(
        results
            .iter()
            .all(|(status, _, replayed)| *status == 202 && !replayed),
        "{results:?}"
    );
    let ids: HashSet<_> = results.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(ids.len(), N);
    assert_eq!(runs_of(&app, "a1").await.len(), N);
    assert_eq!(app.memory.queue.len(), N);
}
