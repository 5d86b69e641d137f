//! A WebSocket client for `/ws` of a running binary (`docs/monitoring.md`, Live runs): connect,
//! authenticate, subscribe (optionally resuming a run), and read frames with a deadline.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Runner;

/// Longest wait for one frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(30);

pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the upgrade request answered when it was refused.
#[derive(Debug)]
pub struct Refused(pub u16);

impl Runner {
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http://", "ws://", 1))
    }

    /// Opens `/ws`, with `token` as `Authorization: Bearer` on the upgrade when given.
    pub async fn ws(&self, token: Option<&str>) -> anyhow::Result<Result<WsClient, Refused>> {
        let mut request = self.ws_url().into_client_request()?;
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Ok(WsClient { socket })),
            Err(tungstenite::Error::Http(response)) => Ok(Err(Refused(response.status().as_u16()))),
            Err(e) => Err(e.into()),
        }
    }

    /// A connection authenticated by header and subscribed to `workspace:<workspace>`.
    pub async fn ws_subscribed(&self, token: &str, workspace: &str) -> anyhow::Result<WsClient> {
        let mut client = self
            .ws(Some(token))
            .await?
            .map_err(|r| anyhow::anyhow!("upgrade refused: {}", r.0))?;
        client.subscribe(workspace, None).await?;
        Ok(client)
    }
}

impl WsClient {
    pub async fn send_json(&mut self, frame: Value) -> anyhow::Result<()> {
        self.socket.send(Message::text(frame.to_string())).await?;
        Ok(())
    }

    /// Subscribes and waits for the acknowledgement; `resume` is `(run_id, after)`.
    pub async fn subscribe(
        &mut self,
        workspace: &str,
        resume: Option<(&str, u64)>,
    ) -> anyhow::Result<()> {
        let channel = format!("workspace:{workspace}");
        let mut frame = json!({"type": "subscribe", "channel": channel});
        if let Some((run_id, after)) = resume {
            frame["run_id"] = json!(run_id);
            frame["after"] = json!(after);
        }
        self.send_json(frame).await?;
        let reply = self
            .next()
            .await?
            .context("closed before the subscription")?;
        if reply != json!({"type": "subscribed", "channel": channel}) {
            bail!("subscribe answered {reply}");
        }
        Ok(())
    }

    /// The next text frame; `None` once the server closed the connection. Fails when nothing
    /// arrives within [`FRAME_WAIT`].
    pub async fn next(&mut self) -> anyhow::Result<Option<Value>> {
        loop {
            let next = tokio::time::timeout(FRAME_WAIT, self.socket.next())
                .await
                .context("no frame within the deadline")?;
            match next {
                Some(Ok(Message::Text(text))) => return Ok(Some(serde_json::from_str(&text)?)),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Frames about `run_id` (others are skipped) up to and including its final frame.
    pub async fn run_frames(&mut self, run_id: &str) -> anyhow::Result<Vec<Value>> {
        let mut frames = Vec::new();
        loop {
            let Some(frame) = self.next().await? else {
                bail!("connection closed after {} frames of the run", frames.len());
            };
            let about = frame["payload"]["run_id"]
                .as_str()
                .or(frame["payload"]["id"].as_str());
            if about != Some(run_id) {
                continue;
            }
            let last = matches!(frame["type"].as_str(), Some("run.completed" | "run.failed"));
            frames.push(frame);
            if last {
                return Ok(frames);
            }
        }
    }
}

/// The `seq` of an `agent.log` frame.
pub fn seq_of(frame: &Value) -> Option<u64> {
    (frame["type"] == "agent.log")
        .then(|| frame["payload"]["seq"].as_u64())
        .flatten()
}
