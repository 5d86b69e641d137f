//! Completion callbacks on the real binary (`docs/callbacks.md`), received by a server the test
//! runs on loopback and checked with the Standard Webhooks reference verifier: one signed
//! callback per finished run, retries listed by the callbacks endpoint, the SSRF guard's
//! refusal, and a pending callback that survives a restart on the SQLite store.

use std::time::{Duration, Instant};

use base64::Engine;
use crewship_test_support::receiver::{Received, Receiver};
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::Value;
use standardwebhooks::Webhook;

const CALLBACK_SECRET: &str = "callback-secret-0123456789abcdef0123456789";

fn config(receiver: &Receiver, allow_private: bool, retry: &str) -> String {
    let url = receiver.url("/hooks/crewship?source=test");
    format!(
        r#"
[server]
internal_token = "internal-token"
callback_allow_private = {allow_private}
callback_retry_secs = "{retry}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "ok"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo done"]
webhook_secret = "{SECRET}"
callback_url = "{url}"

[[agents]]
id = "bad"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "exit 3"]
webhook_secret = "{SECRET}"
callback_url = "{url}"
callback_secret = "{CALLBACK_SECRET}"
"#
    )
}

/// Triggers `agent` and waits for its run to end; the run's id.
async fn finished_run(runner: &Runner, agent: &str) -> String {
    let body = format!(r#"{{"event":"callback-test","data":{{"agent":"{agent}"}}}}"#);
    let (status, answer) = runner.trigger("crew", agent, SECRET, &body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let id = answer["run_id"].as_str().unwrap().to_owned();
    runner
        .wait_for_run(&id, TOKEN, Duration::from_secs(30))
        .await
        .unwrap();
    id
}

/// The run's one callback as the endpoint shows it, once `done` says it is far enough.
async fn callback_of(runner: &Runner, run: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, list) = runner
            .get_json(&format!("/api/v1/runs/{run}/callbacks"), TOKEN)
            .await
            .unwrap();
        assert_eq!(status, 200, "{list}");
        if let Some(callback) = list.as_array().and_then(|l| l.first())
            && done(callback)
        {
            assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
            return callback.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(callback: &Value) -> bool {
    callback["state"] != "pending"
}

/// What the reference verifier says of `received` with the key bytes `secret`, given both
/// ways its users write a key (raw bytes, and `whsec_` + base64).
fn verify(received: &Received, secret: &str) -> Result<(), String> {
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    );
    for hook in [
        Webhook::from_bytes(secret.as_bytes().to_vec()).unwrap(),
        Webhook::new(&whsec).unwrap(),
    ] {
        hook.verify(&received.body, &received.headers)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn body_of(received: &Received) -> Value {
    serde_json::from_slice(&received.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finished_run_sends_exactly_one_signed_callback() {
    let receiver = Receiver::start(&[]).await.unwrap();
    let runner = Runner::start(&config(&receiver, true, "1")).unwrap();
    let completed = finished_run(&runner, "ok").await;
    let failed = finished_run(&runner, "bad").await;
    let got = receiver.wait_for(2, Duration::from_secs(30)).await.unwrap();
    for run in [&completed, &failed] {
        let callback = callback_of(&runner, run, finished).await;
        assert_eq!(callback["state"], "delivered", "{callback}");
        assert_eq!(callback["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(callback["attempts"][0]["status_code"], 200);
    }
    // Nothing more arrives: one callback per run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_later = receiver.received();
    assert_eq!(got_later.len(), 2, "{got_later:?}");

    let by_run = |run: &str| {
        got.iter()
            .find(|r| body_of(r)["data"]["id"] == run)
            .unwrap_or_else(|| panic!("no callback for {run}"))
            .clone()
    };
    let ok = by_run(&completed);
    verify(&ok, SECRET).expect("signed with the agent's webhook secret");
    assert!(
        verify(&ok, CALLBACK_SECRET).is_err(),
        "a wrong key must fail"
    );
    let body = body_of(&ok);
    assert_eq!(body["type"], "run.completed");
    assert_eq!(body["data"]["status"], "COMPLETED");
    assert_eq!(body["data"]["exit_code"], 0);
    assert!(body["data"].get("payload").is_none(), "{body}");
    assert_eq!(ok.headers["content-type"], "application/json");
    let callback = callback_of(&runner, &completed, finished).await;
    assert_eq!(ok.headers["webhook-id"], callback["id"].as_str().unwrap());
    assert!(callback["id"].as_str().unwrap().starts_with("msg_"));

    let bad = by_run(&failed);
    verify(&bad, CALLBACK_SECRET).expect("signed with the callback secret");
    assert!(
        verify(&bad, SECRET).is_err(),
        "the callback secret replaces the webhook secret"
    );
    let body = body_of(&bad);
    assert_eq!(body["type"], "run.failed");
    assert_eq!(body["data"]["status"], "FAILED");
    assert_eq!(body["data"]["exit_code"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_and_every_attempt_is_listed() {
    let receiver = Receiver::start(&[500, 500]).await.unwrap();
    let runner = Runner::start(&config(&receiver, true, "1,1,1")).unwrap();
    let run = finished_run(&runner, "ok").await;
    let got = receiver.wait_for(3, Duration::from_secs(30)).await.unwrap();
    let callback = callback_of(&runner, &run, finished).await;
    assert_eq!(callback["state"], "delivered", "{callback}");
    let codes: Vec<&Value> = callback["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [500, 500, 200], "{callback}");
    assert!(
        callback["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    assert_eq!(callback["next_attempt_at"], Value::Null);
    // One event, one id: every retry carries the same webhook-id and body, each signed anew.
    for r in &got {
        assert_eq!(r.headers["webhook-id"], callback["id"].as_str().unwrap());
        assert_eq!(r.body, got[0].body);
        verify(r, SECRET).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_target_is_refused_without_callback_allow_private() {
    let receiver = Receiver::start(&[]).await.unwrap();
    let runner = Runner::start(&config(&receiver, false, "1")).unwrap();
    let run = finished_run(&runner, "ok").await;
    let callback = callback_of(&runner, &run, finished).await;
    assert_eq!(callback["state"], "refused", "{callback}");
    let attempts = callback["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "refused once, never retried");
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(
        error.contains("loopback") && error.contains("callback_allow_private"),
        "{error}"
    );
    assert!(attempts[0].get("status_code").is_none());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.received().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_callback_is_delivered_after_a_restart_on_sqlite() {
    // A port nobody listens on yet: the first attempt finds the receiver down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("crewship.db");
    let args = ["--data", db.to_str().unwrap()];
    let down = Receiver::start_on(port, &[]).await.unwrap();
    let config = config(&down, true, "3,3,3,3");
    drop(down);

    let mut first = Runner::start_with(&config, &args).unwrap();
    let run = finished_run(&first, "ok").await;
    let pending = callback_of(&first, &run, |c| {
        c["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(pending["state"], "pending", "{pending}");
    assert!(pending["attempts"][0].get("status_code").is_none());
    first.terminate().unwrap();

    let receiver = Receiver::start_on(port, &[]).await.unwrap();
    let second = Runner::start_with(&config, &args).unwrap();
    let got = receiver.wait_for(1, Duration::from_secs(30)).await.unwrap();
    verify(&got[0], SECRET).unwrap();
    assert_eq!(body_of(&got[0])["data"]["id"], run.as_str());
    let delivered = callback_of(&second, &run, finished).await;
    assert_eq!(delivered["state"], "delivered", "{delivered}");
    assert_eq!(
        delivered["id"], pending["id"],
        "the same callback, not a new one"
    );
    let attempts = delivered["attempts"].as_array().unwrap();
    assert_eq!(attempts.last().unwrap()["status_code"], 200);
    assert!(attempts.len() >= 2, "{delivered}");
}
