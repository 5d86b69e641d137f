//! The WebSocket protocol's conformance suite (`docs/monitoring.md`, Live runs), frame by frame,
//! written against a [`WsTransport`] so that every transport runs it unchanged: the local axum
//! endpoint today, an API Gateway WebSocket Lambda later. A transport file says
//! `crewship_test_support::ws_conformance_suite!(make_transport());` and gets one
//! `#[tokio::test]` per case.
//!
//! Fixture ([`crate::fixture`]): token `TOKEN` → workspace `ws` with agent `a1`,
//! `OTHER_TOKEN` → workspace `other` with agent `b1`. Events reach the transport through its
//! ports exactly as the executor sends them: the log store first, then the broadcaster.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::agent::Agent;
use crewship_core::broadcast::BroadcastEvent;
use crewship_core::ids::{RunId, WorkspaceId};
use crewship_core::log::{LogEntry, Stream};
use crewship_core::ports::Ports;
use crewship_core::run::{AuthScheme, NewRun, Run, RunStatus};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AgentBuilder;
use crate::fixture::TOKEN;

/// Longest wait for a frame the protocol promises.
pub const FRAME_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub enum Incoming {
    Frame(Value),
    /// The server closed the connection (close frame, or the stream ended).
    Closed,
}

#[async_trait]
pub trait WsClient: Send {
    async fn send(&mut self, text: &str);
    /// The next text frame, or `Closed`. Panics when nothing arrives within [`FRAME_WAIT`].
    async fn recv(&mut self) -> Incoming;
}

#[async_trait]
pub trait WsTransport: Send + Sync {
    /// Opens a connection with `bearer` as the upgrade's `Authorization: Bearer` token;
    /// `Err(status)` when the upgrade is refused.
    async fn connect(&self, bearer: Option<&str>) -> Result<Box<dyn WsClient>, u16>;
    /// The ports the transport serves from.
    fn ports(&self) -> &Ports;
}

/// Expands to one test per conformance case, each on a fresh transport from `$make`
/// (an expression evaluating to a future of a `WsTransport`).
#[macro_export]
macro_rules! ws_conformance_suite {
    ($make:expr) => {
        $crate::ws_conformance_suite!(@cases $make;
            header_token_authenticates,
            bad_header_token_is_refused_before_upgrade,
            auth_frame_authenticates,
            bad_token_in_auth_frame_is_unauthenticated_and_closes,
            subscribe_before_auth_is_unauthenticated_and_closes,
            another_workspace_is_access_denied_and_never_delivered,
            ping_is_answered_with_pong,
            malformed_frames_get_an_error_and_the_connection_stays,
            live_frames_arrive_in_order_until_unsubscribed,
            an_event_published_right_after_the_acknowledgement_is_delivered,
            failed_runs_are_run_failed_frames,
            resume_replays_stored_lines_after_seq_then_continues_live,
            resume_of_a_finished_run_ends_with_its_final_frame,
            resume_during_live_output_has_no_gaps_or_repeats,
            resume_of_another_workspaces_run_is_refused
        );
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let transport = $make.await;
                $crate::ws_conformance::$case(&transport).await;
            }
        )*
    };
}
// ---- helpers ---------------------------------------------------------------------------

/// The fixture's agents: `a1` (crew `c1`, workspace `ws`), `b1` (crew `c2`, workspace `other`).
fn agent(id: &str, crew: &str, workspace: &str) -> Agent {
    AgentBuilder::new(id)
        .crew(crew)
        .workspace(workspace)
        .build()
}

fn ws() -> WorkspaceId {
    "ws".parse().unwrap()
}

const CHANNEL: &str = "workspace:ws";

async fn frame(client: &mut Box<dyn WsClient>) -> Value {
    match client.recv().await {
        Incoming::Frame(v) => v,
        Incoming::Closed => panic!("connection closed while a frame was expected"),
    }
}

/// Asserts nothing is pending: a ping's pong is the very next frame.
async fn assert_quiet(client: &mut Box<dyn WsClient>) {
    client.send(r#"{"type":"ping"}"#).await;
    assert_eq!(frame(client).await, json!({"type": "pong"}));
}

/// The connection closes, perhaps after frames listed in `before`.
async fn assert_closed(client: &mut Box<dyn WsClient>) {
    for _ in 0..3 {
        if let Incoming::Closed = client.recv().await {
            return;
        }
    }
    panic!("the connection was not closed");
}

async fn subscribed(transport: &dyn WsTransport, token: &str) -> Box<dyn WsClient> {
    let mut client = transport.connect(Some(token)).await.expect("upgrade");
    client
        .send(&json!({"type": "subscribe", "channel": CHANNEL}).to_string())
        .await;
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "subscribed", "channel": CHANNEL})
    );
    client
}

pub async fn create_run(ports: &Ports, agent: &Agent, status: RunStatus) -> Run {
    let new = NewRun {
        id: RunId::generate(),
        event: "test".into(),
        source: "conformance".into(),
        auth_scheme: AuthScheme::Signature,
        delivery_id: None,
        payload: Arc::from(serde_json::value::RawValue::from_string("{}".into()).unwrap()),
    };
    let mut run = Run::queued(agent, new, OffsetDateTime::now_utc());
    ports.runs.create(&run).await.unwrap();
    if status != RunStatus::Queued {
        run.status = RunStatus::Running;
        run.started_at = Some(OffsetDateTime::now_utc());
        ports
            .runs
            .update(&mut run, RunStatus::Queued)
            .await
            .unwrap();
    }
    if status.is_terminal() {
        run.finish(status, Some(0), None, OffsetDateTime::now_utc());
        ports
            .runs
            .update(&mut run, RunStatus::Running)
            .await
            .unwrap();
    }
    run
}

pub async fn finish_run(ports: &Ports, run: &mut Run, status: RunStatus) {
    run.finish(status, None, None, OffsetDateTime::now_utc());
    ports.runs.update(run, RunStatus::Running).await.unwrap();
    ports
        .broadcaster
        .publish(&run.workspace_id, BroadcastEvent::RunFinished(run.clone()));
}

/// One output line, stored then published, as the executor does it.
pub async fn emit(ports: &Ports, run: &Run, seq: u64) {
    let entry = LogEntry {
        run_id: run.id.clone(),
        agent_id: run.agent_id.clone(),
        seq,
        ts: OffsetDateTime::now_utc(),
        stream: Stream::Stdout,
        level: "info".into(),
        event: "output".into(),
        content: format!("line {seq}"),
    };
    ports
        .logs
        .append(std::slice::from_ref(&entry))
        .await
        .unwrap();
    ports.broadcaster.publish(
        &run.workspace_id,
        BroadcastEvent::Log {
            agent_name: run.agent_id.to_string(),
            entry,
        },
    );
}

/// Stores a line without publishing it: output written while no one listened.
pub async fn store_only(ports: &Ports, run: &Run, seqs: std::ops::RangeInclusive<u64>) {
    for seq in seqs {
        let entry = LogEntry {
            run_id: run.id.clone(),
            agent_id: run.agent_id.clone(),
            seq,
            ts: OffsetDateTime::now_utc(),
            stream: Stream::Stdout,
            level: "info".into(),
            event: "output".into(),
            content: format!("line {seq}"),
        };
        ports.logs.append(&[entry]).await.unwrap();
    }
}

fn log_seq(frame: &Value) -> u64 {
    assert_eq!(frame["type"], "agent.log", "{frame}");
    frame["payload"]["seq"].as_u64().unwrap()
}

// ---- the cases -------------------------------------------------------------------------

pub async fn header_token_authenticates(t: &impl WsTransport) {
    let mut client = subscribed(t, TOKEN).await;
    assert_quiet(&mut client).await;
}

pub async fn bad_header_token_is_refused_before_upgrade(t: &impl WsTransport) {
    for token in ["nope", "token-w", ""] {
        match t.connect(Some(token)).await {
            Err(status) => assert_eq!(status, 401, "{token}"),
            Ok(_) => panic!("upgrade with a bad token {token:?} was accepted"),
        }
    }
}

pub async fn auth_frame_authenticates(t: &impl WsTransport) {
    let mut client = t.connect(None).await.expect("upgrade");
    client
        .send(&json!({"type": "auth", "token": TOKEN}).to_string())
        .await;
    assert_eq!(frame(&mut client).await, json!({"type": "authenticated"}));
    client
        .send(&json!({"type": "subscribe", "channel": CHANNEL}).to_string())
        .await;
    assert_eq!(frame(&mut client).await["type"], "subscribed");
}

pub async fn bad_token_in_auth_frame_is_unauthenticated_and_closes(t: &impl WsTransport) {
    let mut client = t.connect(None).await.expect("upgrade");
    client.send(r#"{"type":"auth","token":"nope"}"#).await;
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "error", "payload": {"message": "unauthenticated"}})
    );
    assert_closed(&mut client).await;
}

pub async fn subscribe_before_auth_is_unauthenticated_and_closes(t: &impl WsTransport) {
    let mut client = t.connect(None).await.expect("upgrade");
    client
        .send(&json!({"type": "subscribe", "channel": CHANNEL}).to_string())
        .await;
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "error", "payload": {"message": "unauthenticated"}})
    );
    assert_closed(&mut client).await;
}

pub async fn another_workspace_is_access_denied_and_never_delivered(t: &impl WsTransport) {
    let mut client = subscribed(t, TOKEN).await;
    for channel in ["workspace:other", "workspace:nowhere", "bogus"] {
        client
            .send(&json!({"type": "subscribe", "channel": channel}).to_string())
            .await;
        assert_eq!(
            frame(&mut client).await,
            json!({"type": "error", "channel": channel, "payload": {"message": "access denied"}})
        );
    }
    // The other workspace's events never reach this client; its own still do.
    let theirs = create_run(t.ports(), &agent("b1", "c2", "other"), RunStatus::Running).await;
    emit(t.ports(), &theirs, 1).await;
    let ours = create_run(t.ports(), &agent("a1", "c1", "ws"), RunStatus::Running).await;
    emit(t.ports(), &ours, 1).await;
    let got = frame(&mut client).await;
    assert_eq!(got["payload"]["run_id"], ours.id.as_str(), "{got}");
    assert_quiet(&mut client).await;
}

pub async fn ping_is_answered_with_pong(t: &impl WsTransport) {
    let mut client = t.connect(None).await.expect("upgrade");
    client.send(r#"{"type":"ping"}"#).await;
    assert_eq!(frame(&mut client).await, json!({"type": "pong"}));
}

pub async fn malformed_frames_get_an_error_and_the_connection_stays(t: &impl WsTransport) {
    let mut client = subscribed(t, TOKEN).await;
    for bad in ["not json", r#"{"type":"dance"}"#, "[1,2]"] {
        client.send(bad).await;
        let reply = frame(&mut client).await;
        assert_eq!(reply["type"], "error", "{bad}: {reply}");
    }
    client
        .send(r#"{"type":"subscribe","channel":"workspace:ws","after":3}"#)
        .await;
    let reply = frame(&mut client).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["channel"], CHANNEL);
    assert_quiet(&mut client).await;
}

pub async fn live_frames_arrive_in_order_until_unsubscribed(t: &impl WsTransport) {
    let mut client = subscribed(t, TOKEN).await;
    let ports = t.ports();
    let mut run = create_run(ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    ports
        .broadcaster
        .publish(&ws(), BroadcastEvent::RunStarted(run.clone()));
    for seq in 1..=20 {
        emit(ports, &run, seq).await;
    }
    finish_run(ports, &mut run, RunStatus::Completed).await;

    let started = frame(&mut client).await;
    assert_eq!(started["type"], "run.started");
    assert_eq!(started["channel"], CHANNEL);
    assert_eq!(started["payload"]["id"], run.id.as_str());
    assert_eq!(started["payload"]["status"], "RUNNING");
    for seq in 1..=20 {
        let line = frame(&mut client).await;
        assert_eq!(log_seq(&line), seq);
        let p = &line["payload"];
        assert_eq!(line["channel"], CHANNEL);
        assert_eq!(p["content"], format!("line {seq}"));
        assert_eq!(p["run_id"], run.id.as_str());
        assert_eq!(p["agent_id"], "a1");
        assert_eq!(p["agent"], "a1");
        assert_eq!(p["stream"], "stdout");
        for key in ["event", "level", "ts"] {
            assert!(p[key].is_string(), "{key} missing: {line}");
        }
    }
    let done = frame(&mut client).await;
    assert_eq!(done["type"], "run.completed");
    assert_eq!(done["payload"]["status"], "COMPLETED");

    client
        .send(&json!({"type": "unsubscribe", "channel": CHANNEL}).to_string())
        .await;
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "unsubscribed", "channel": CHANNEL})
    );
    let later = create_run(ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    emit(ports, &later, 1).await;
    assert_quiet(&mut client).await;
}

/// `subscribed` promises the subscription is in place: an event published the moment the
/// client reads it is not lost.
pub async fn an_event_published_right_after_the_acknowledgement_is_delivered(t: &impl WsTransport) {
    let run = create_run(t.ports(), &agent("a1", "c1", "ws"), RunStatus::Running).await;
    for seq in 1..=20 {
        let mut client = subscribed(t, TOKEN).await;
        emit(t.ports(), &run, seq).await;
        let got = frame(&mut client).await;
        assert_eq!(log_seq(&got), seq, "{got}");
    }
}

pub async fn failed_runs_are_run_failed_frames(t: &impl WsTransport) {
    let mut client = subscribed(t, TOKEN).await;
    for status in [RunStatus::Failed, RunStatus::Timeout, RunStatus::Cancelled] {
        let mut run = create_run(t.ports(), &agent("a1", "c1", "ws"), RunStatus::Running).await;
        finish_run(t.ports(), &mut run, status).await;
        let got = frame(&mut client).await;
        assert_eq!(got["type"], "run.failed", "{status}");
        assert_eq!(got["payload"]["status"], status.as_str());
    }
}

pub async fn resume_replays_stored_lines_after_seq_then_continues_live(t: &impl WsTransport) {
    let ports = t.ports();
    let mut run = create_run(ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    store_only(ports, &run, 1..=10).await;

    let mut client = t.connect(Some(TOKEN)).await.expect("upgrade");
    let subscribe = json!({"type": "subscribe", "channel": CHANNEL, "run_id": run.id, "after": 3});
    client.send(&subscribe.to_string()).await;
    assert_eq!(frame(&mut client).await["type"], "subscribed");
    for seq in 4..=10 {
        let line = frame(&mut client).await;
        assert_eq!(log_seq(&line), seq);
        assert_eq!(line["payload"]["content"], format!("line {seq}"));
        assert_eq!(line["payload"]["agent"], "a1");
    }
    for seq in 11..=15 {
        emit(ports, &run, seq).await;
    }
    for seq in 11..=15 {
        assert_eq!(log_seq(&frame(&mut client).await), seq);
    }
    finish_run(ports, &mut run, RunStatus::Completed).await;
    assert_eq!(frame(&mut client).await["type"], "run.completed");
    assert_quiet(&mut client).await;
}

pub async fn resume_of_a_finished_run_ends_with_its_final_frame(t: &impl WsTransport) {
    let ports = t.ports();
    let run = create_run(ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    store_only(ports, &run, 1..=5).await;
    let mut run = run;
    run.finish(
        RunStatus::Failed,
        Some(3),
        Some("exit 3".into()),
        OffsetDateTime::now_utc(),
    );
    ports
        .runs
        .update(&mut run, RunStatus::Running)
        .await
        .unwrap();

    let mut client = t.connect(Some(TOKEN)).await.expect("upgrade");
    let subscribe = json!({"type": "subscribe", "channel": CHANNEL, "run_id": run.id, "after": 2});
    client.send(&subscribe.to_string()).await;
    assert_eq!(frame(&mut client).await["type"], "subscribed");
    for seq in 3..=5 {
        assert_eq!(log_seq(&frame(&mut client).await), seq);
    }
    let last = frame(&mut client).await;
    assert_eq!(last["type"], "run.failed");
    assert_eq!(last["payload"]["exit_code"], 3);
    assert_quiet(&mut client).await;
}

/// The executor keeps writing while the client resumes: whatever the interleaving, every line
/// arrives once, in order.
pub async fn resume_during_live_output_has_no_gaps_or_repeats(t: &impl WsTransport) {
    const LINES: u64 = 600;
    let ports = t.ports().clone();
    let run = create_run(&ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    store_only(&ports, &run, 1..=50).await;
    let mut client = t.connect(Some(TOKEN)).await.expect("upgrade");
    let writer = {
        let (ports, mut run) = (ports.clone(), run.clone());
        tokio::spawn(async move {
            for seq in 51..=LINES {
                emit(&ports, &run, seq).await;
                if seq % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            finish_run(&ports, &mut run, RunStatus::Completed).await;
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let subscribe = json!({"type": "subscribe", "channel": CHANNEL, "run_id": run.id, "after": 10});
    client.send(&subscribe.to_string()).await;
    assert_eq!(frame(&mut client).await["type"], "subscribed");
    let mut seqs = Vec::new();
    loop {
        let got = frame(&mut client).await;
        match got["type"].as_str() {
            Some("agent.log") => seqs.push(log_seq(&got)),
            Some("run.completed") => break,
            _ => panic!("unexpected frame {got}"),
        }
    }
    writer.await.unwrap();
    assert_eq!(seqs, (11..=LINES).collect::<Vec<_>>());
    assert_quiet(&mut client).await;
}

pub async fn resume_of_another_workspaces_run_is_refused(t: &impl WsTransport) {
    let theirs = create_run(t.ports(), &agent("b1", "c2", "other"), RunStatus::Running).await;
    store_only(t.ports(), &theirs, 1..=3).await;
    let mut client = t.connect(Some(TOKEN)).await.expect("upgrade");
    for run_id in [theirs.id.as_str(), "run_doesnotexist", "../x"] {
        let subscribe =
            json!({"type": "subscribe", "channel": CHANNEL, "run_id": run_id, "after": 0});
        client.send(&subscribe.to_string()).await;
        let mut reply = frame(&mut client).await;
        if reply["type"] == "subscribed" {
            reply = frame(&mut client).await;
        }
        assert_eq!(
            reply,
            json!({"type": "error", "channel": CHANNEL, "payload": {"message": "no such run"}}),
            "{run_id}"
        );
    }
    assert_quiet(&mut client).await;
}
