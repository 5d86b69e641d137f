//! API Gateway's WebSocket side, which AWS provides and the emulator does not: the events it
//! invokes `ws-lambda` with (`$connect`, `$default`; built from the fixtures
//! `tests/fixtures/ws-*.json`, copied from `aws_lambda_events`), and its management API
//! (`POST`/`DELETE /{stage}/@connections/{id}`), which the functions reach through the real
//! `aws-sdk-apigatewaymanagement` client. moto answers that API too, but keeps what was posted
//! where no API reads it back; this one records each message per connection, and answers 410
//! GoneException for a connection that is not open, as API Gateway does.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Default)]
struct Connections {
    open: HashSet<String>,
    posted: HashMap<String, Vec<String>>,
}

type Shared = Arc<Mutex<Connections>>;

fn gone() -> Response {
    (
        StatusCode::GONE,
        [("x-amzn-errortype", "GoneException")],
        r#"{"message":null}"#,
    )
        .into_response()
}

async fn post_to_connection(
    State(state): State<Shared>,
    Path((_stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    if !state.open.contains(&id) {
        return gone();
    }
    let text = String::from_utf8(body.to_vec()).expect("a text frame");
    state.posted.entry(id).or_default().push(text);
    StatusCode::OK.into_response()
}

async fn delete_connection(
    State(state): State<Shared>,
    Path((_stage, id)): Path<(String, String)>,
) -> Response {
    if state.lock().unwrap().open.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

/// The management API of stage `live`, on a loopback port.
pub struct ApiGateway {
    state: Shared,
    pub addr: SocketAddr,
}

impl ApiGateway {
    pub async fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route(
                "/{stage}/@connections/{id}",
                post(post_to_connection).delete(delete_connection),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { state, addr }
    }

    /// What the functions are given as `CREWSHIP_WS_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/live", self.addr)
    }

    /// A client connects: API Gateway knows the connection before it invokes `$connect`.
    pub fn open(&self, connection_id: &str) {
        self.state.lock().unwrap().open.insert(connection_id.into());
    }

    /// The messages posted to `connection_id`, parsed, oldest first.
    pub fn posted_to(&self, connection_id: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .posted
            .get(connection_id)
            .map(|texts| {
                texts
                    .iter()
                    .map(|t| serde_json::from_str(t).expect("a JSON frame"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn fixture(name: &str, connection_id: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    value["requestContext"]["connectionId"] = json!(connection_id);
    value
}

/// The `$connect` event of a client sending `Authorization: Bearer <token>`.
pub fn connect(connection_id: &str, token: &str) -> Value {
    let mut value = fixture("ws-connect.json", connection_id);
    let auth = format!("Bearer {token}");
    value["headers"]["Authorization"] = json!(auth);
    value["multiValueHeaders"]["Authorization"] = json!([auth]);
    value
}

/// The `$default` event carrying one text frame.
pub fn message(connection_id: &str, frame: &Value) -> Value {
    let mut value = fixture("ws-default.json", connection_id);
    value["body"] = json!(frame.to_string());
    value
}
