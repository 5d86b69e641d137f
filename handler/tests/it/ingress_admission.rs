//! `docs/webhooks.md` steps 11–12: rate limit and queued cap (`429`), store and queue outages
//! (`503`).

use crewship_core::ids::RunId;
use crewship_core::run::RunStatus;
use crewship_core::store::RunStore;

use crate::common::faults::faulty_app;
use crate::common::ingress::*;
use crate::common::*;

fn assert_limited(response: &axum::http::Response<()>, limit: &str) {
    let h = response.headers();
    assert_eq!(response.status(), 429);
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(h["ratelimit-limit"], limit);
    h["ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    h["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let mut limited = agent("a1", "c1", "ws");
    limited.rate_limit_per_min = 2;
    let app = app_with(vec![limited], config());
    for n in 0..2 {
        let (response, body) = send(
            &app,
            trigger_request("c1", "a1", &format!(r#"{{"n":{n}}}"#)),
        )
        .await;
        assert_eq!(response.status(), 202, "{body}");
        assert_eq!(response.headers()["ratelimit-limit"], "2");
        assert_eq!(
            response.headers()["ratelimit-remaining"],
            (1 - n).to_string()
        );
    }
    let (response, body) = send(&app, trigger_request("c1", "a1", r#"{"n":2}"#)).await;
    assert_limited(&response, "2");
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(response.headers()["ratelimit-remaining"], "0");
    assert_eq!(runs_of(&app, "a1").await.len(), 2);

    // The refused delivery's keys were released: once a token is back, the same request is a
    // fresh run, not a replay of nothing.
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    let (response, body) = send(&app, trigger_request("c1", "a1", r#"{"n":2}"#)).await;
    assert_eq!(response.status(), 202, "{body}");
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_eq!(runs_of(&app, "a1").await.len(), 3);
}

#[tokio::test]
async fn the_queued_cap_answers_429_and_releases_the_delivery_key() {
    let mut capped = agent("a1", "c1", "ws");
    capped.max_queued_runs = 1;
    let app = app_with(vec![capped], config());
    let (response, _) = send(&app, trigger_request("c1", "a1", r#"{"n":1}"#)).await;
    assert_eq!(response.status(), 202);
    let with_key = |n: u32| {
        let body = format!(r#"{{"n":{}}}"#, n);
        post(
            "c1",
            "a1",
            &[
                ("content-type", "application/json"),
                ("x-signature", &*sign(body.as_bytes())),
                ("idempotency-key", "k2"),
            ],
            body,
        )
    };
    let (response, body) = send(&app, with_key(2)).await;
    assert_limited(&response, "600");
    assert_eq!(body["error"], "queue_full");
    assert!(body["message"].as_str().unwrap().contains("1"));

    // Finish the queued run: the cap has room and the released key makes a fresh run.
    let mut run = runs_of(&app, "a1").await.remove(0);
    run.finish(RunStatus::Completed, Some(0), None, NOW);
    app.memory
        .store
        .update(&mut run, RunStatus::Queued)
        .await
        .unwrap();
    let (response, body) = send(&app, with_key(2)).await;
    assert_eq!(response.status(), 202, "{body}");
    assert!(response.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_store_outage_is_503_and_records_nothing() {
    let (app, faults) = faulty_app();
    faults.fail_store(true);
    let request = || {
        post(
            "c1",
            "a1",
            &[
                ("content-type", "application/json"),
                ("x-signature", &*sign(b"{}")),
                ("idempotency-key", "k"),
            ],
            "{}",
        )
    };
    let (response, body) = send(&app, request()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body["error"], "unavailable");
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(
        !body["message"].as_str().unwrap().contains("injected"),
        "internals leaked"
    );
    assert!(runs_of(&app, "a1").await.is_empty());
    assert!(app.memory.queue.is_empty());

    // The retry is a fresh delivery, not a replay of the failed one.
    faults.fail_store(false);
    let (response, body) = send(&app, request()).await;
    assert_eq!(response.status(), 202, "{body}");
    assert!(response.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_queue_outage_is_503_leaves_the_run_failed_and_releases_the_key() {
    let (app, faults) = faulty_app();
    faults.fail_queue(true);
    let mut live = app.memory.hub.subscribe(&"ws".parse().unwrap(), 16);
    let request = || {
        post(
            "c1",
            "a1",
            &[
                ("content-type", "application/json"),
                ("x-signature", &*sign(b"{}")),
                ("idempotency-key", "k"),
            ],
            "{}",
        )
    };
    let (response, body) = send(&app, request()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body["error"], "unavailable");
    assert!(response.headers().contains_key("retry-after"));
    let runs = runs_of(&app, "a1").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert!(runs[0].error_message.as_deref().unwrap().contains("queue"));
    assert!(app.memory.queue.is_empty());
    // The terminal transition is announced once, as every other one is.
    let frame = live.rx.try_recv().expect("a run.failed frame");
    assert_eq!(frame.frame_type, "run.failed");
    assert_eq!(frame.run_id.as_ref(), Some(&runs[0].id));
    assert!(live.rx.try_recv().is_err(), "announced twice");

    faults.fail_queue(false);
    let (response, body) = send(&app, request()).await;
    assert_eq!(response.status(), 202, "{body}");
    assert!(response.headers().get("idempotent-replayed").is_none());
    let fresh: RunId = body["run_id"].as_str().unwrap().parse().unwrap();
    assert_ne!(fresh, runs[0].id);
    let stored = app.memory.store.get(&fresh).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Queued);
    assert_eq!(app.memory.queue.len(), 1);
    // No run is left QUEUED without a queue message.
    let queued = runs_of(&app, "a1")
        .await
        .into_iter()
        .filter(|r| r.status == RunStatus::Queued)
        .count();
    assert_eq!(queued, 1);
}
