//! The WebSocket Lambda driven with API Gateway WebSocket events (fixtures in
//! `tests/fixtures/ws-*.json`): `$connect` with good, bad and missing tokens, `$default`
//! frames, `$disconnect`; checked through the connection records and the posted replies.

use std::sync::Arc;
use std::time::Duration;

use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::secret::Secret;
use crewship_lambda::ws::{ConnectionStore, MemoryConnections, WsFunction};
use handler::ApiToken;
use handler::monitor::TokenSet;
use serde_json::json;

use crate::ws_support::*;

const TOKEN: &str = "token-ws";

struct Fixture {
    function: WsFunction,
    connections: Arc<MemoryConnections>,
    poster: Arc<RecordingPoster>,
}

fn fixture() -> Fixture {
    let connections = Arc::new(MemoryConnections::new());
    let poster = Arc::new(RecordingPoster::default());
    let tokens = TokenSet::new(&[
        ApiToken {
            token: Secret::new(TOKEN),
            workspace_id: "ws".parse().unwrap(),
        },
        ApiToken {
            token: Secret::new("token-other"),
            workspace_id: "other".parse().unwrap(),
        },
    ]);
    let ports = MemoryPorts::new(Arc::new(MemoryRegistry::new([])), Duration::from_secs(30)).ports;
    Fixture {
        function: WsFunction {
            tokens,
            connections: connections.clone(),
            poster: poster.clone(),
            ports,
        },
        connections,
        poster,
    }
}

#[tokio::test]
async fn connect_with_a_good_bearer_token_records_an_authenticated_connection() {
    let f = fixture();
    let response = f
        .function
        .handle(connect("c1", Some(&format!("Bearer {TOKEN}")), None))
        .await;
    assert_eq!(response.status_code, 200);
    let record = f.connections.get("c1").await.unwrap().expect("recorded");
    assert_eq!(record.workspace, Some("ws".parse().unwrap()));
    assert!(record.channels.is_empty());
    // From the fixture's requestContext.connectedAt (milliseconds).
    assert_eq!(record.connected_at, 1_547_230_720);
    assert!(record.expires_at > record.connected_at + 2 * 60 * 60);
}

#[tokio::test]
async fn connect_with_a_query_token_authenticates_too() {
    let f = fixture();
    let response = f.function.handle(connect("c1", None, Some(TOKEN))).await;
    assert_eq!(response.status_code, 200);
    let record = f.connections.get("c1").await.unwrap().unwrap();
    assert_eq!(record.workspace, Some("ws".parse().unwrap()));
}

#[tokio::test]
async fn connect_with_a_bad_token_is_refused_with_401_and_records_nothing() {
    let f = fixture();
    for (header, query) in [
        (Some("Bearer nope"), None),
        (Some("Bearer "), None),
        (Some("Basic dG9rZW4td3M="), None),
        (Some(TOKEN), None),
        (None, Some("nope")),
        (None, Some("")),
    ] {
        let response = f.function.handle(connect("c1", header, query)).await;
        assert_eq!(response.status_code, 401, "{header:?} {query:?}");
    }
    assert!(f.connections.is_empty());
}

#[tokio::test]
async fn connect_without_a_token_is_accepted_unauthenticated_until_an_auth_frame() {
    let f = fixture();
    let _rx = f.poster.open("c1");
    assert_eq!(
        f.function
            .handle(connect("c1", None, None))
            .await
            .status_code,
        200
    );
    let record = f.connections.get("c1").await.unwrap().unwrap();
    assert_eq!(record.workspace, None);

    let auth = json!({"type": "auth", "token": TOKEN}).to_string();
    assert_eq!(
        f.function.handle(message("c1", &auth)).await.status_code,
        200
    );
    assert_eq!(f.poster.posted_to("c1"), [json!({"type": "authenticated"})]);
    let record = f.connections.get("c1").await.unwrap().unwrap();
    assert_eq!(record.workspace, Some("ws".parse().unwrap()));
}

#[tokio::test]
async fn subscribe_records_the_channel_before_acknowledging_and_unsubscribe_removes_it() {
    let f = fixture();
    let _rx = f.poster.open("c1");
    f.function
        .handle(connect("c1", Some(&format!("Bearer {TOKEN}")), None))
        .await;
    let subscribe = r#"{"type":"subscribe","channel":"workspace:ws"}"#;
    f.function.handle(message("c1", subscribe)).await;
    assert_eq!(
        f.poster.posted_to("c1"),
        [json!({"type": "subscribed", "channel": "workspace:ws"})]
    );
    let subscribers = f
        .connections
        .subscribers(&"ws".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(subscribers.len(), 1);
    assert_eq!(subscribers[0].connection_id, "c1");

    f.function
        .handle(message(
            "c1",
            r#"{"type":"unsubscribe","channel":"workspace:ws"}"#,
        ))
        .await;
    assert_eq!(
        f.poster.posted_to("c1")[1],
        json!({"type": "unsubscribed", "channel": "workspace:ws"})
    );
    assert!(
        f.connections
            .subscribers(&"ws".parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(f.connections.get("c1").await.unwrap().is_some());
}

#[tokio::test]
async fn another_workspaces_channel_is_access_denied_and_not_recorded() {
    let f = fixture();
    let _rx = f.poster.open("c1");
    f.function
        .handle(connect("c1", Some(&format!("Bearer {TOKEN}")), None))
        .await;
    f.function
        .handle(message(
            "c1",
            r#"{"type":"subscribe","channel":"workspace:other"}"#,
        ))
        .await;
    assert_eq!(
        f.poster.posted_to("c1"),
        [json!({"type": "error", "channel": "workspace:other",
                "payload": {"message": "access denied"}})]
    );
    assert!(
        f.connections
            .subscribers(&"other".parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.connections
            .get("c1")
            .await
            .unwrap()
            .unwrap()
            .channels
            .is_empty()
    );
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_binary_frames_with_an_error() {
    let f = fixture();
    let _rx = f.poster.open("c1");
    f.function.handle(connect("c1", None, None)).await;
    f.function.handle(message("c1", r#"{"type":"ping"}"#)).await;
    f.function.handle(binary("c1")).await;
    let posted = f.poster.posted_to("c1");
    assert_eq!(posted[0], json!({"type": "pong"}));
    assert_eq!(posted[1]["type"], "error");
}

#[tokio::test]
async fn a_bad_auth_frame_is_answered_then_the_connection_is_closed_and_forgotten() {
    let f = fixture();
    let _rx = f.poster.open("c1");
    f.function.handle(connect("c1", None, None)).await;
    f.function
        .handle(message("c1", r#"{"type":"auth","token":"nope"}"#))
        .await;
    assert_eq!(
        f.poster.posted_to("c1"),
        [json!({"type": "error", "payload": {"message": "unauthenticated"}})]
    );
    assert_eq!(f.poster.closed(), ["c1"]);
    assert!(f.connections.get("c1").await.unwrap().is_none());
}

#[tokio::test]
async fn a_frame_from_an_unknown_connection_starts_unauthenticated() {
    let f = fixture();
    let _rx = f.poster.open("ghost");
    f.function
        .handle(message(
            "ghost",
            r#"{"type":"subscribe","channel":"workspace:ws"}"#,
        ))
        .await;
    assert_eq!(
        f.poster.posted_to("ghost")[0]["payload"]["message"],
        "unauthenticated"
    );
    assert_eq!(f.poster.closed(), ["ghost"]);
}

#[tokio::test]
async fn disconnect_deletes_the_connection_record() {
    let f = fixture();
    f.function
        .handle(connect("AAAA1234=", Some(&format!("Bearer {TOKEN}")), None))
        .await;
    assert_eq!(f.connections.len(), 1);
    let response = f.function.handle(disconnect("AAAA1234=")).await;
    assert_eq!(response.status_code, 200);
    assert!(f.connections.is_empty());
    // Idempotent: API Gateway may deliver it after the record expired.
    assert_eq!(
        f.function.handle(disconnect("AAAA1234=")).await.status_code,
        200
    );
}
