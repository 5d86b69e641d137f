//! `/ws` served by axum from the in-process hub, over real TCP with a real WebSocket client:
//! the protocol's conformance suite, then what only this transport does (authentication
//! deadline, keep-alive pings, frame size limit, slow consumers).

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::broadcast::BroadcastEvent;
use crewship_core::ports::Ports;
use crewship_core::run::RunStatus;
use crewship_test_support::ws_conformance::{
    FRAME_WAIT, Incoming, WsClient, WsTransport, create_run, emit,
};
use crewship_test_support::ws_conformance_suite;
use futures_util::{SinkExt, StreamExt};
use handler::{AppState, HandlerConfig, WsSettings};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::*;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The real router on a loopback port, until dropped.
struct Local {
    app: App,
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn local_with(settings: WsSettings) -> Local {
    let mut config: HandlerConfig = config();
    config.ws = settings;
    let mut app = app_with(
        vec![agent("a1", "c1", "ws"), agent("b1", "c2", "other")],
        config.clone(),
    );
    // The wall clock: replayed runs and live ones are compared by real time.
    app.memory.ports.clock = std::sync::Arc::new(crewship_core::clock::SystemClock);
    let state = AppState::new(
        app.memory.ports.clone(),
        config,
        Some(app.memory.hub.clone()),
    );
    app.router = handler::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = app.router.clone();
    tokio::spawn(async move {
        handler::serve(
            listener,
            router,
            handler::ConnectionLimits::default(),
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
    });
    Local {
        app,
        addr,
        _stop: stop,
    }
}

async fn local() -> Local {
    local_with(WsSettings::default()).await
}

impl Local {
    async fn raw(&self, bearer: Option<&str>) -> Result<Socket, u16> {
        let mut request = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(token) = bearer {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("connecting failed: {e}"),
        }
    }
}

struct Client(Socket);

#[async_trait]
impl WsClient for Client {
    async fn send(&mut self, text: &str) {
        self.0.send(Message::text(text)).await.unwrap();
    }

    async fn recv(&mut self) -> Incoming {
        loop {
            let next = tokio::time::timeout(FRAME_WAIT, self.0.next())
                .await
                .expect("no frame in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Incoming::Frame(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Binary(_) | Message::Frame(_))) => panic!("unexpected frame"),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Incoming::Closed,
            }
        }
    }
}

#[async_trait]
impl WsTransport for Local {
    async fn connect(&self, bearer: Option<&str>) -> Result<Box<dyn WsClient>, u16> {
        let socket = self.raw(bearer).await?;
        Ok(Box::new(Client(socket)))
    }

    fn ports(&self) -> &Ports {
        &self.app.memory.ports
    }
}

ws_conformance_suite!(local());

// ---- this transport only ---------------------------------------------------------------

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close code if it sent one.
async fn closed_with(socket: &mut Socket) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .expect("the server did not close the connection")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_authenticates_is_closed_after_the_deadline() {
    let local = local_with(WsSettings {
        auth_timeout: Duration::from_millis(300),
        ..WsSettings::default()
    })
    .await;
    let mut socket = local.raw(None).await.unwrap();
    assert_eq!(
        next_text(&mut socket).await,
        json!({"type": "error", "payload": {"message": "unauthenticated"}})
    );
    assert_eq!(closed_with(&mut socket).await, Some(CloseCode::Policy));
}

#[tokio::test]
async fn connections_waiting_to_authenticate_are_capped_and_free_their_place() {
    let local = local_with(WsSettings {
        max_unauthenticated: 2,
        ..WsSettings::default()
    })
    .await;
    let mut first = local.raw(None).await.unwrap();
    let second = local.raw(None).await.unwrap();
    assert_eq!(local.raw(None).await.err(), Some(503));
    // A token in the upgrade needs no place.
    let mut bearer = local.raw(Some(TOKEN)).await.unwrap();
    bearer
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut bearer).await, json!({"type": "pong"}));
    // Authenticating frees a place, and so does closing.
    first
        .send(Message::text(
            json!({"type": "auth", "token": TOKEN}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_text(&mut first).await["type"], "authenticated");
    let third = local.raw(None).await.unwrap();
    assert_eq!(local.raw(None).await.err(), Some(503));
    drop((second, third));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match local.raw(None).await {
            Ok(_) => break,
            Err(503) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("a closed connection kept its place: {status}"),
        }
    }
}

#[tokio::test]
async fn an_authenticated_connection_outlives_the_auth_deadline() {
    let local = local_with(WsSettings {
        auth_timeout: Duration::from_millis(200),
        ..WsSettings::default()
    })
    .await;
    let mut socket = local.raw(None).await.unwrap();
    socket
        .send(Message::text(
            json!({"type": "auth", "token": TOKEN}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_text(&mut socket).await["type"], "authenticated");
    tokio::time::sleep(Duration::from_millis(600)).await;
    socket
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut socket).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn an_idle_connection_gets_keep_alive_pings() {
    let local = local_with(WsSettings {
        keepalive: Duration::from_millis(200),
        ..WsSettings::default()
    })
    .await;
    let mut socket = local.raw(Some(TOKEN)).await.unwrap();
    let mut pings = 0;
    while pings < 2 {
        match tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("expected a keep-alive ping, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_frame_over_64_kib_is_refused_and_the_connection_closed() {
    let local = local().await;
    let mut socket = local.raw(Some(TOKEN)).await.unwrap();
    let small = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(60 * 1024));
    socket.send(Message::text(small)).await.unwrap();
    assert_eq!(next_text(&mut socket).await, json!({"type": "pong"}));

    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(64 * 1024));
    // The server may reset before the whole frame is written: either way it is refused.
    let _ = socket.send(Message::text(big)).await;
    loop {
        match tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .expect("the server did not close the connection")
        {
            Some(Ok(Message::Text(text))) => {
                assert!(!text.contains("pong"), "an oversized frame was answered");
            }
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|f| f.code), Some(CloseCode::Size));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
}

#[tokio::test]
async fn a_slow_consumer_is_dropped_and_never_blocks_the_publisher() {
    let local = local_with(WsSettings {
        buffer_frames: 256,
        send_timeout: Duration::from_secs(2),
        ..WsSettings::default()
    })
    .await;
    let ports = local.ports().clone();
    let hub = local.app.memory.hub.clone();
    let workspace = "ws".parse().unwrap();
    let mut slow = local.raw(Some(TOKEN)).await.unwrap();
    slow.send(Message::text(
        json!({"type": "subscribe", "channel": "workspace:ws"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_text(&mut slow).await["type"], "subscribed");
    assert_eq!(hub.subscriber_count(&workspace), 1);

    // A fast client on the same workspace keeps receiving everything.
    let mut fast = local.raw(Some(TOKEN)).await.unwrap();
    fast.send(Message::text(
        json!({"type": "subscribe", "channel": "workspace:ws"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_text(&mut fast).await["type"], "subscribed");
    let fast_reader = tokio::spawn(async move {
        let mut last = 0;
        loop {
            let frame = next_text(&mut fast).await;
            match frame["type"].as_str() {
                Some("agent.log") => {
                    let seq = frame["payload"]["seq"].as_u64().unwrap();
                    assert_eq!(seq, last + 1);
                    last = seq;
                }
                Some("run.completed") => return (last, fast),
                _ => panic!("unexpected {frame}"),
            }
        }
    });

    // Publishing (what the executor does) runs to the end while the slow client reads nothing.
    let mut run = create_run(&ports, &agent("a1", "c1", "ws"), RunStatus::Running).await;
    let lines: u64 = 40_000;
    for seq in 1..=lines {
        emit(&ports, &run, seq).await;
        // Like an agent's output, with pauses the fast client's task can use; the slow
        // client's buffers (hub, then kernel) fill all the same.
        if seq % 64 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    run.finish(
        RunStatus::Completed,
        Some(0),
        None,
        time::OffsetDateTime::now_utc(),
    );
    ports
        .runs
        .update(&mut run, RunStatus::Running)
        .await
        .unwrap();
    ports
        .broadcaster
        .publish(&workspace, BroadcastEvent::RunFinished(run.clone()));
    let (last, _fast) = fast_reader.await.unwrap();
    assert_eq!(last, lines);
    // The fast client stays attached; the slow one is gone.
    let deadline = tokio::time::Instant::now() + FRAME_WAIT;
    while hub.subscriber_count(&workspace) > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow subscriber is still attached"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hub.subscriber_count(&workspace), 1);

    // The slow client finds its stream cut short: no run.completed, then the end.
    loop {
        match tokio::time::timeout(FRAME_WAIT, slow.next())
            .await
            .expect("the slow client was not disconnected")
        {
            Some(Ok(Message::Text(text))) => {
                assert!(!text.contains("run.completed"), "the slow client kept up");
            }
            Some(Ok(Message::Close(frame))) => {
                if let Some(frame) = frame {
                    assert_eq!(frame.code, CloseCode::Again);
                }
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
}

#[tokio::test]
async fn a_plain_get_without_upgrade_headers_is_a_json_error() {
    let local = local().await;
    let response = reqwest_free_get(local.addr, "/ws", Some(TOKEN)).await;
    assert!(response.starts_with("HTTP/1.1 4"), "{response}");
    assert!(
        response.contains(r#""error":"websocket_upgrade_required""#),
        "{response}"
    );
    let response = reqwest_free_get(local.addr, "/ws", Some("bogus")).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
}

/// A bare HTTP/1.1 GET over TCP, answer as text.
async fn reqwest_free_get(addr: SocketAddr, path: &str, bearer: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn ws_route_is_absent_without_an_in_process_hub() {
    let app = app();
    let state = AppState::new(app.memory.ports.clone(), config(), None);
    let router = handler::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = handler::serve(
            listener,
            router,
            handler::ConnectionLimits::default(),
            std::future::pending(),
        )
        .await;
    });
    let response = reqwest_free_get(addr, "/ws", Some(TOKEN)).await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}
