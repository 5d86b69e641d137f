//! `ApiGatewayBroadcaster` through the real `aws-sdk-apigatewaymanagement` client against a
//! recording HTTP server that speaks the management API's REST shape
//! (`POST /@connections/{id}` → 200, or 410 GoneException for a gone client).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use crewship_core::broadcast::{BroadcastEvent, Broadcaster};
use crewship_core::ids::WorkspaceId;
use crewship_core::log::{LogEntry, Stream};
use crewship_lambda::ws::{
    ApiGatewayBroadcaster, ApiGatewayPoster, ConnectionRecord, ConnectionStore, MemoryConnections,
    PostError, Poster,
};
use time::macros::datetime;

#[derive(Default)]
struct Recorded {
    posts: Mutex<Vec<(String, String)>>,
    gone: Mutex<HashSet<String>>,
    /// Connections whose posts never get an answer.
    stuck: Mutex<HashSet<String>>,
}

async fn post_to_connection(
    State(state): State<Arc<Recorded>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if state.stuck.lock().unwrap().contains(&id) {
        std::future::pending::<()>().await;
    }
    if state.gone.lock().unwrap().contains(&id) {
        return (
            StatusCode::GONE,
            [("x-amzn-errortype", "GoneException")],
            r#"{"message":null}"#,
        )
            .into_response();
    }
    let text = String::from_utf8(body.to_vec()).unwrap();
    state.posts.lock().unwrap().push((id, text));
    StatusCode::OK.into_response()
}

async fn delete_connection(State(state): State<Arc<Recorded>>, Path(id): Path<String>) -> Response {
    if state.gone.lock().unwrap().contains(&id) {
        return (
            StatusCode::GONE,
            [("x-amzn-errortype", "GoneException")],
            "{}",
        )
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn server() -> (SocketAddr, Arc<Recorded>) {
    let state = Arc::new(Recorded::default());
    let app = Router::new()
        .route(
            "/@connections/{id}",
            post(post_to_connection).delete(delete_connection),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

fn poster(addr: SocketAddr) -> ApiGatewayPoster {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .build();
    ApiGatewayPoster::new(aws_sdk_apigatewaymanagement::Client::from_conf(config))
}

fn ws(id: &str) -> WorkspaceId {
    id.parse().unwrap()
}

async fn subscribed(store: &MemoryConnections, id: &str, workspace: &str) {
    let mut record = ConnectionRecord::new(id, Some(ws(workspace)), 1_700_000_000);
    record.channels.insert(ws(workspace));
    store.put(&record).await.unwrap();
}

fn line(seq: u64) -> BroadcastEvent {
    BroadcastEvent::Log {
        agent_name: "a1".into(),
        entry: LogEntry {
            run_id: "run_1".parse().unwrap(),
            agent_id: "a1".parse().unwrap(),
            seq,
            ts: datetime!(2026-11-28 12:00:00 UTC),
            stream: Stream::Stdout,
            level: "info".into(),
            event: "output".into(),
            content: format!("line {seq}"),
        },
    }
}

#[tokio::test]
async fn each_frame_is_posted_to_every_subscriber_of_its_workspace_only() {
    let (addr, recorded) = server().await;
    let store = Arc::new(MemoryConnections::new());
    subscribed(&store, "Aa1=", "ws").await;
    subscribed(&store, "Bb2=", "ws").await;
    subscribed(&store, "Cc3=", "other").await;
    // Authenticated but not subscribed: nothing for it.
    store
        .put(&ConnectionRecord::new(
            "Dd4=",
            Some(ws("ws")),
            1_700_000_000,
        ))
        .await
        .unwrap();
    let broadcaster = ApiGatewayBroadcaster::spawn(store.clone(), Arc::new(poster(addr)), 64);
    for seq in 1..=3 {
        broadcaster.publish(&ws("ws"), line(seq));
    }
    broadcaster.flush().await;

    let posts = recorded.posts.lock().unwrap().clone();
    for id in ["Aa1=", "Bb2="] {
        let frames: Vec<String> = posts
            .iter()
            .filter(|(to, _)| to == id)
            .map(|(_, f)| f.clone())
            .collect();
        let expected: Vec<String> = (1..=3).map(|s| line(s).to_frame(&ws("ws"))).collect();
        assert_eq!(frames, expected, "{id}");
    }
    assert_eq!(posts.len(), 6, "{posts:?}");
    assert_eq!(broadcaster.dropped(), 0);
}

#[tokio::test]
async fn a_connection_answering_gone_loses_its_record_and_the_others_still_get_frames() {
    let (addr, recorded) = server().await;
    recorded.gone.lock().unwrap().insert("Gone=".into());
    let store = Arc::new(MemoryConnections::new());
    subscribed(&store, "Gone=", "ws").await;
    subscribed(&store, "Live=", "ws").await;
    let broadcaster = ApiGatewayBroadcaster::spawn(store.clone(), Arc::new(poster(addr)), 64);
    broadcaster.publish(&ws("ws"), line(1));
    broadcaster.flush().await;

    assert!(store.get("Gone=").await.unwrap().is_none());
    assert!(store.get("Live=").await.unwrap().is_some());
    let posts = recorded.posts.lock().unwrap().clone();
    assert_eq!(posts, [("Live=".to_string(), line(1).to_frame(&ws("ws")))]);

    broadcaster.publish(&ws("ws"), line(2));
    broadcaster.flush().await;
    assert_eq!(recorded.posts.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_poster_maps_410_to_gone_and_posts_the_exact_bytes() {
    let (addr, recorded) = server().await;
    recorded.gone.lock().unwrap().insert("Gone=".into());
    let poster = poster(addr);
    assert!(matches!(
        poster.post("Gone=", "x").await,
        Err(PostError::Gone)
    ));
    assert!(matches!(poster.close("Gone=").await, Err(PostError::Gone)));
    poster
        .post("Ok/+=", r#"{"type":"pong","é":1}"#)
        .await
        .unwrap();
    poster.close("Ok/+=").await.unwrap();
    assert_eq!(
        recorded.posts.lock().unwrap().clone(),
        [("Ok/+=".to_string(), r#"{"type":"pong","é":1}"#.to_string())]
    );
}

#[tokio::test]
async fn publish_never_waits_for_a_stuck_connection_and_drops_on_overflow() {
    let (addr, recorded) = server().await;
    recorded.stuck.lock().unwrap().insert("Stuck=".into());
    let store = Arc::new(MemoryConnections::new());
    subscribed(&store, "Stuck=", "ws").await;
    let broadcaster = ApiGatewayBroadcaster::spawn(store, Arc::new(poster(addr)), 4);
    // Returns although nothing can be delivered: the run goes on, the overflow is dropped.
    for seq in 1..=40 {
        broadcaster.publish(&ws("ws"), line(seq));
    }
    assert!(
        broadcaster.dropped() >= 40 - 4 - 1,
        "{}",
        broadcaster.dropped()
    );
}

#[tokio::test]
async fn a_resuming_connection_gets_its_runs_frames_held_back_and_others_live() {
    use crewship_lambda::ws::connections::Resume;
    let (addr, recorded) = server().await;
    let store = Arc::new(MemoryConnections::new());
    let mut record = ConnectionRecord::new("Res=", Some(ws("ws")), 1_700_000_000);
    record.channels.insert(ws("ws"));
    record.resume = Some(Resume {
        run_id: "run_1".parse().unwrap(),
        last_seq: 3,
        finished: false,
        replaying: true,
        held_seq: None,
        held_finished: false,
    });
    store.put(&record).await.unwrap();
    let broadcaster = ApiGatewayBroadcaster::spawn(store.clone(), Arc::new(poster(addr)), 64);
    broadcaster.publish(&ws("ws"), line(4));
    broadcaster.publish(&ws("ws"), line(5));
    broadcaster.flush().await;
    assert!(recorded.posts.lock().unwrap().is_empty());
    let resume = store.get("Res=").await.unwrap().unwrap().resume.unwrap();
    assert_eq!(resume.held_seq, Some(5));

    // The replay hands over having sent up to 5: a repeat is skipped, a newer line goes live.
    store.end_replay("Res=", 5, false).await.unwrap();
    broadcaster.publish(&ws("ws"), line(5));
    broadcaster.publish(&ws("ws"), line(6));
    broadcaster.flush().await;
    let posts = recorded.posts.lock().unwrap().clone();
    assert_eq!(posts, [("Res=".to_string(), line(6).to_frame(&ws("ws")))]);
}
