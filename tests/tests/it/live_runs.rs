//! Watching runs on the real binary: live `/ws` frames from real agent processes, resuming
//! after a disconnect, workspace isolation on every read path, slow consumers.

use std::time::Duration;

use e2e_tests::ws::seq_of;
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::{Value, json};

const OTHER_TOKEN: &str = "other-token";
const LIMIT: Duration = Duration::from_secs(120);

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

# The flood agent's 100,000 lines are all kept: the slow consumer, not the log cap, is tested.
[retention]
log_max_lines = 1000000
log_max_bytes = 100000000

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[tokens]]
token = "{OTHER_TOKEN}"
workspace_id = "other"

[[agents]]
id = "counter"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "i=1; while [ $i -le 30 ]; do echo \"line $i\"; i=$((i+1)); done"]
webhook_secret = "{SECRET}"

[[agents]]
id = "slow"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "i=1; while [ $i -le 60 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.05; done"]
webhook_secret = "{SECRET}"

[[agents]]
id = "flood"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "yes 'a long line of agent output that fills every buffer between here and the client' | head -n 100000"]
webhook_secret = "{SECRET}"

[[agents]]
id = "holder"
crew_id = "crew"
workspace_id = "ws"
max_concurrent_runs = 1
command = ["sh", "-c", "echo holding; sleep 60"]
webhook_secret = "{SECRET}"

[[agents]]
id = "theirs"
crew_id = "crew_other"
workspace_id = "other"
command = ["sh", "-c", "echo theirs"]
webhook_secret = "{SECRET}"
"#
    )
}

async fn trigger(runner: &Runner, agent: &str) -> String {
    let crew = if agent == "theirs" {
        "crew_other"
    } else {
        "crew"
    };
    let (status, answer) = runner.trigger(crew, agent, SECRET, "{}").await.unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

fn contents(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "agent.log")
        .map(|f| f["payload"]["content"].as_str().unwrap().to_owned())
        .collect()
}

fn numbered(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("line {i}")).collect()
}

#[tokio::test]
async fn websocket_streams_run_started_every_line_in_order_then_run_completed() {
    let runner = Runner::start(&config()).unwrap();
    let mut client = runner.ws_subscribed(TOKEN, "ws").await.unwrap();
    let run_id = trigger(&runner, "counter").await;

    let frames = client.run_frames(&run_id).await.unwrap();
    assert_eq!(frames[0]["type"], "run.started", "{}", frames[0]);
    assert_eq!(frames[0]["channel"], "workspace:ws");
    assert_eq!(frames[0]["payload"]["status"], "RUNNING");
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "run.completed");
    assert_eq!(last["payload"]["status"], "COMPLETED");
    assert_eq!(last["payload"]["exit_code"], 0);

    let lines = &frames[1..frames.len() - 1];
    assert_eq!(contents(lines), numbered(30));
    let seqs: Vec<u64> = lines.iter().map(|f| seq_of(f).unwrap()).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    let p = &lines[0]["payload"];
    assert_eq!(p["agent"], "counter");
    assert_eq!(p["agent_id"], "counter");
    assert_eq!(p["stream"], "stdout");
    for key in ["event", "level", "ts"] {
        assert!(p[key].is_string(), "{key}: {p}");
    }

    // What was live is what was stored.
    let stored = runner.run_logs("counter", &run_id, TOKEN).await.unwrap();
    let stored: Vec<&str> = stored
        .iter()
        .map(|e| e["content"].as_str().unwrap())
        .collect();
    assert_eq!(stored, contents(lines));
}

async fn cancel(runner: &Runner, run_id: &str) -> u16 {
    runner
        .http
        .post(format!("{}/api/v1/runs/{run_id}/cancel", runner.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The final frames about `run_id` that arrive within `wait`.
async fn final_frames(
    client: &mut e2e_tests::ws::WsClient,
    run_id: &str,
    wait: Duration,
) -> Vec<Value> {
    let mut finals = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(frame) = tokio::time::timeout_at(deadline, client.next()).await {
        let frame = frame.unwrap().expect("open");
        let about = frame["payload"]["id"].as_str();
        if about == Some(run_id)
            && matches!(frame["type"].as_str(), Some("run.completed" | "run.failed"))
        {
            finals.push(frame);
        }
    }
    finals
}

#[tokio::test]
async fn cancelling_a_queued_run_announces_it_exactly_once() {
    let runner = Runner::start(&config()).unwrap();
    let mut client = runner.ws_subscribed(TOKEN, "ws").await.unwrap();
    // Distinct bodies: the same signed body twice is one delivery.
    let hold = |n: u32| {
        let runner = &runner;
        async move {
            let body = format!(r#"{{"event":"hold-{n}"}}"#);
            let (status, answer) = runner
                .trigger("crew", "holder", SECRET, &body)
                .await
                .unwrap();
            assert_eq!(status, 202, "{answer}");
            answer["run_id"].as_str().unwrap().to_owned()
        }
    };
    // The second is sent once the first holds the agent's only slot: two deliveries in flight
    // at once may be claimed in either order.
    let running = hold(1).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (_, run) = runner
            .get_json(&format!("/api/v1/runs/{running}"), TOKEN)
            .await
            .unwrap();
        if run["status"] == "RUNNING" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = hold(2).await;
    let (_, run) = runner
        .get_json(&format!("/api/v1/runs/{queued}"), TOKEN)
        .await
        .unwrap();
    assert_eq!(run["status"], "QUEUED", "{run}");

    assert_eq!(cancel(&runner, &queued).await, 200);
    let finals = final_frames(&mut client, &queued, Duration::from_secs(3)).await;
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0]["type"], "run.failed");
    assert_eq!(finals[0]["payload"]["status"], "CANCELLED");

    // The running one, stopped by its executor, is announced once too.
    assert_eq!(cancel(&runner, &running).await, 202);
    let finals = final_frames(&mut client, &running, Duration::from_secs(15)).await;
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0]["payload"]["status"], "CANCELLED");
}

#[tokio::test]
async fn a_client_that_reconnects_and_resumes_gets_every_line_exactly_once() {
    let runner = Runner::start(&config()).unwrap();
    let mut first = runner.ws_subscribed(TOKEN, "ws").await.unwrap();
    let run_id = trigger(&runner, "slow").await;

    // Read a part of the run, then drop the connection in the middle.
    let mut seen: Vec<Value> = Vec::new();
    while seen.iter().filter_map(seq_of).max().unwrap_or(0) < 10 {
        let frame = first.next().await.unwrap().expect("open");
        if frame["payload"]["run_id"] == run_id.as_str() {
            seen.push(frame);
        }
    }
    drop(first);
    let after = seen.iter().filter_map(seq_of).max().unwrap();
    // The agent keeps writing while no one listens.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Reconnect, authenticating with the first frame this time, and resume after the last seq.
    let mut second = runner.ws(None).await.unwrap().unwrap();
    second
        .send_json(json!({"type": "auth", "token": TOKEN}))
        .await
        .unwrap();
    assert_eq!(
        second.next().await.unwrap(),
        Some(json!({"type": "authenticated"}))
    );
    second
        .subscribe("ws", Some((&run_id, after)))
        .await
        .unwrap();
    let rest = second.run_frames(&run_id).await.unwrap();
    assert_eq!(rest.last().unwrap()["type"], "run.completed");
    assert!(
        rest.iter().filter(|f| f["type"] == "agent.log").count() > 0,
        "nothing was replayed or streamed after the reconnect"
    );

    let all: Vec<Value> = seen.into_iter().chain(rest).collect();
    let seqs: Vec<u64> = all.iter().filter_map(seq_of).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>(), "gaps or repeats");
    assert_eq!(contents(&all), numbered(60));
}

#[tokio::test]
async fn another_workspaces_token_is_refused_on_every_read_path() {
    let runner = Runner::start(&config()).unwrap();
    let run_id = trigger(&runner, "counter").await;
    runner.wait_for_run(&run_id, TOKEN, LIMIT).await.unwrap();
    let theirs = trigger(&runner, "theirs").await;
    runner
        .wait_for_run(&theirs, OTHER_TOKEN, LIMIT)
        .await
        .unwrap();

    let reads = [
        format!("/api/v1/runs/{run_id}"),
        "/api/v1/agents/counter/runs".to_owned(),
        "/api/v1/agents/counter/logs".to_owned(),
        format!("/api/v1/agents/counter/logs?run_id={run_id}"),
        format!("/api/v1/agents/theirs/logs?run_id={run_id}"),
    ];
    for path in &reads {
        let (status, body) = runner.get_json(path, OTHER_TOKEN).await.unwrap();
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }
    for path in &reads[..4] {
        let (status, _) = runner.get_json(path, TOKEN).await.unwrap();
        assert_eq!(status, 200, "{path}");
    }
    let cancel = runner
        .http
        .post(format!("{}/api/v1/runs/{run_id}/cancel", runner.base))
        .bearer_auth(OTHER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 404);
    let cancel = runner
        .http
        .post(format!("{}/api/v1/runs/{run_id}/cancel", runner.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancel.status(),
        409,
        "own finished run: conflict, not hidden"
    );

    // WebSocket: the channel is denied, a resume of the run is refused, nothing leaks.
    let mut spy = runner.ws(Some(OTHER_TOKEN)).await.unwrap().unwrap();
    spy.send_json(json!({"type": "subscribe", "channel": "workspace:ws"}))
        .await
        .unwrap();
    assert_eq!(
        spy.next().await.unwrap().unwrap(),
        json!({"type": "error", "channel": "workspace:ws", "payload": {"message": "access denied"}})
    );
    spy.subscribe("other", None).await.unwrap();
    spy.send_json(
        json!({"type": "subscribe", "channel": "workspace:other", "run_id": run_id, "after": 0}),
    )
    .await
    .unwrap();
    let mut reply = spy.next().await.unwrap().unwrap();
    if reply["type"] == "subscribed" {
        reply = spy.next().await.unwrap().unwrap();
    }
    assert_eq!(reply["payload"]["message"], "no such run", "{reply}");
    let another = trigger(&runner, "counter").await;
    runner.wait_for_run(&another, TOKEN, LIMIT).await.unwrap();
    spy.send_json(json!({"type": "ping"})).await.unwrap();
    assert_eq!(
        spy.next().await.unwrap().unwrap(),
        json!({"type": "pong"}),
        "a frame of the other workspace reached the spy"
    );

    // A bad token on the upgrade is refused before any upgrade.
    let refused = runner.ws(Some("not-a-token")).await.unwrap();
    assert_eq!(refused.err().map(|r| r.0), Some(401));
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_delay_the_run_and_is_disconnected() {
    let runner = Runner::start(&config()).unwrap();
    let mut stalled = runner.ws_subscribed(TOKEN, "ws").await.unwrap();
    let run_id = trigger(&runner, "flood").await;

    // The run finishes although one of its watchers reads nothing at all.
    let run = runner.wait_for_run(&run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");

    // Every line reached the log store: nothing was dropped but the stalled client.
    let (status, logs) = runner
        .get_json(
            &format!("/api/v1/agents/flood/logs?run_id={run_id}&after=99999"),
            TOKEN,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(logs.as_array().unwrap().len(), 1, "every line was stored");

    // The stalled client finds its stream cut: whatever its buffers held, then the end,
    // never the run's final frame.
    let mut received = 0u64;
    while let Some(frame) = stalled.next().await.unwrap() {
        assert_ne!(
            frame["type"], "run.completed",
            "the stalled client was not dropped"
        );
        received += 1;
    }
    assert!(received < 100_000, "the stalled client received every line");
}
