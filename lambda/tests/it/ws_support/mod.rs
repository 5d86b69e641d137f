//! Shared by the WebSocket Lambda tests: API Gateway WebSocket events built from the fixtures
//! (`tests/fixtures/ws-*.json`, copied from `aws_lambda_events`), and a [`Poster`] that
//! records what the function sends and hands it to the test's client; the API tokens of the
//! shared fixture.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use crewship_core::secret::Secret;
use crewship_lambda::ws::{PostError, Poster};
use crewship_test_support::fixture::{OTHER_TOKEN, TOKEN};
use handler::ApiToken;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// `TOKEN` → workspace `ws`, `OTHER_TOKEN` → workspace `other`.
pub fn fixture_tokens() -> Vec<ApiToken> {
    vec![
        ApiToken {
            token: Secret::new(TOKEN),
            workspace_id: "ws".parse().unwrap(),
        },
        ApiToken {
            token: Secret::new(OTHER_TOKEN),
            workspace_id: "other".parse().unwrap(),
        },
    ]
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn event(mut value: Value, connection_id: &str) -> ApiGatewayWebsocketProxyRequest {
    value["requestContext"]["connectionId"] = json!(connection_id);
    serde_json::from_value(value).unwrap()
}

/// `$connect`, with an `Authorization` header value and/or a `?token=`.
pub fn connect(
    connection_id: &str,
    authorization: Option<&str>,
    query_token: Option<&str>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut value = fixture("ws-connect.json");
    if let Some(auth) = authorization {
        value["headers"]["Authorization"] = json!(auth);
        value["multiValueHeaders"]["Authorization"] = json!([auth]);
    }
    if let Some(token) = query_token {
        value["queryStringParameters"] = json!({"token": token});
        value["multiValueQueryStringParameters"] = json!({"token": [token]});
    }
    event(value, connection_id)
}

/// `$default` carrying one text frame.
pub fn message(connection_id: &str, body: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut value = fixture("ws-default.json");
    value["body"] = json!(body);
    event(value, connection_id)
}

/// `$default` carrying a binary frame (API Gateway base64-encodes it).
pub fn binary(connection_id: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut value = fixture("ws-default.json");
    value["body"] = json!("AAEC");
    value["isBase64Encoded"] = json!(true);
    event(value, connection_id)
}

pub fn disconnect(connection_id: &str) -> ApiGatewayWebsocketProxyRequest {
    event(fixture("ws-disconnect.json"), connection_id)
}

#[derive(Debug)]
pub enum Delivered {
    Text(String),
    Closed,
}

/// Records every post and close; a connection registered with [`RecordingPoster::open`]
/// also receives them on a channel, and one never opened answers `Gone`, as API Gateway does.
#[derive(Debug, Default)]
pub struct RecordingPoster {
    open: Mutex<HashMap<String, mpsc::UnboundedSender<Delivered>>>,
    posts: Mutex<Vec<(String, String)>>,
    closed: Mutex<Vec<String>>,
}

impl RecordingPoster {
    pub fn open(&self, connection_id: &str) -> mpsc::UnboundedReceiver<Delivered> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.open.lock().unwrap().insert(connection_id.into(), tx);
        rx
    }

    /// The frames posted to `connection_id`, parsed, oldest first.
    pub fn posted_to(&self, connection_id: &str) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| id == connection_id)
            .map(|(_, text)| serde_json::from_str(text).unwrap())
            .collect()
    }

    pub fn closed(&self) -> Vec<String> {
        self.closed.lock().unwrap().clone()
    }
}

#[async_trait]
impl Poster for RecordingPoster {
    async fn post(&self, connection_id: &str, data: &str) -> Result<(), PostError> {
        let open = self.open.lock().unwrap();
        let Some(tx) = open.get(connection_id) else {
            return Err(PostError::Gone);
        };
        self.posts
            .lock()
            .unwrap()
            .push((connection_id.into(), data.into()));
        let _ = tx.send(Delivered::Text(data.into()));
        Ok(())
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        self.closed.lock().unwrap().push(connection_id.into());
        match self.open.lock().unwrap().remove(connection_id) {
            Some(tx) => {
                let _ = tx.send(Delivered::Closed);
                Ok(())
            }
            None => Err(PostError::Gone),
        }
    }
}
