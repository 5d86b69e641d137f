//! `GET /ws` served by axum from the in-process [`Hub`]: the local runner's transport for the
//! protocol of [`super::protocol`]. One task per connection multiplexes the client's frames,
//! the hub's live frames, the authentication deadline and the idle keep-alive.
//!
//! The executor never waits for a client: the hub hands frames over with `try_send` into a
//! bounded buffer, and a client that falls `buffer_frames` behind is dropped by the hub. Writes
//! to the socket have a timeout of their own, so a client that stops reading cannot hold its
//! task forever either.

use crewship_core::error_code::ErrorCode;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crewship_core::broadcast::{Hub, HubFrame, Subscription, channel_of};
use crewship_core::ids::{RunId, WorkspaceId};
use tokio::time::{Instant, Sleep, sleep, timeout};
use tokio_tungstenite::tungstenite;

use super::protocol::{self, Effect, Session};
use super::replay::{Replay, ReplayError, ResumePoint};
use super::unauthenticated::Place;
use crate::config::WsSettings;
use crate::error::ApiError;
use crate::monitor::bearer_workspace;
use crate::state::AppState;

/// Resume points kept per connection; older ones are forgotten (their runs long finished).
const MAX_RESUME_POINTS: usize = 16;

/// Initial read and write buffer of a connection (docs/performance.md, WebSocket memory).
const BUFFER_BYTES: usize = 4 * 1024;

/// The upgrade. A bad `Authorization` header is `401` before any upgrade; without one the
/// client must authenticate with its first frame.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(hub) = state.hub.clone() else {
        return ApiError::not_found("no such endpoint").into_response();
    };
    let session = match headers.get(header::AUTHORIZATION).filter(|v| !v.is_empty()) {
        None => Session::new(),
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|h| bearer_workspace(&state, h))
        {
            Some(workspace) => Session::authenticated(workspace),
            None => {
                return ApiError::unauthorized(
                    ErrorCode::InvalidToken,
                    "the bearer token is not valid",
                )
                .into_response();
            }
        },
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError::new(
                e.status(),
                ErrorCode::WebsocketUpgradeRequired,
                e.body_text(),
            )
            .into_response();
        }
    };
    let settings = state.config.ws.clone();
    let place = if session.is_authenticated() {
        None
    } else {
        match Place::take(&state.ws_unauthenticated, settings.max_unauthenticated) {
            Some(place) => Some(place),
            None => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "too many connections are waiting to authenticate; retry later, or send \
                     the token in the Authorization header of the upgrade",
                )
                .with_header(header::RETRY_AFTER, 5)
                .into_response();
            }
        }
    };
    // The protocol's frames are small: tungstenite's 128 KiB default buffers per direction
    // were most of a connection's cost. Buffers grow for a large frame when one comes.
    ws.max_message_size(settings.max_client_frame_bytes)
        .max_frame_size(settings.max_client_frame_bytes)
        .read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .on_upgrade(move |socket| {
            Connection {
                socket,
                state,
                hub,
                session,
                unauthenticated: place,
                live: None,
                resumes: Vec::new(),
                idle: Box::pin(sleep(settings.keepalive)),
                settings,
            }
            .run()
        })
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    hub: Arc<Hub>,
    session: Session,
    /// Held until the session authenticates (`WsSettings::max_unauthenticated`).
    unauthenticated: Option<Place>,
    /// A token belongs to one workspace, so a connection has at most one live channel.
    live: Option<(WorkspaceId, Subscription)>,
    resumes: Vec<ResumePoint>,
    idle: Pin<Box<Sleep>>,
    settings: WsSettings,
}

impl Connection {
    async fn run(mut self) {
        tracing::debug!(
            authenticated = self.session.is_authenticated(),
            "websocket opened"
        );
        let auth_deadline = sleep(self.settings.auth_timeout);
        tokio::pin!(auth_deadline);
        loop {
            let flow = tokio::select! {
                incoming = self.socket.recv() => self.on_incoming(incoming).await,
                frame = next_live(&mut self.live) => self.on_live(frame).await,
                () = &mut auth_deadline, if !self.session.is_authenticated() => {
                    let effects = self.session.auth_timed_out();
                    self.apply(effects).await
                }
                () = &mut self.idle => self.send(Message::Ping(Default::default())).await,
            };
            if flow == Flow::Stop {
                break;
            }
        }
        tracing::debug!(workspace = ?self.session.workspace(), "websocket closed");
    }

    async fn on_incoming(&mut self, incoming: Option<Result<Message, axum::Error>>) -> Flow {
        self.touch();
        let effects = match incoming {
            None | Some(Ok(Message::Close(_))) => return Flow::Stop,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Flow::Continue,
            Some(Ok(Message::Text(text))) => {
                let effects = self.session.handle_text(text.as_str(), &self.state.tokens);
                if self.session.is_authenticated() {
                    self.unauthenticated = None;
                }
                effects
            }
            Some(Ok(Message::Binary(_))) => self.session.handle_binary(),
            Some(Err(e)) => {
                let inner = e.into_inner();
                match inner.downcast_ref::<tungstenite::Error>() {
                    Some(tungstenite::Error::Capacity(_)) => self.session.frame_too_large(),
                    _ => {
                        tracing::debug!(error = %inner, "websocket read failed");
                        return Flow::Stop;
                    }
                }
            }
        };
        self.apply(effects).await
    }

    async fn on_live(&mut self, frame: Option<Arc<HubFrame>>) -> Flow {
        let Some(frame) = frame else {
            // The hub dropped this subscriber: it fell too far behind.
            tracing::info!(
                workspace = ?self.session.workspace(),
                "websocket client disconnected: too slow to keep up"
            );
            self.close(protocol::CLOSE_TRY_AGAIN_LATER, "slow consumer")
                .await;
            return Flow::Stop;
        };
        let (kind, run, seq) = (frame.frame_type, frame.run_id.as_ref(), frame.seq);
        if self.resumes.iter().any(|p| p.skips(kind, run, seq)) {
            return Flow::Continue;
        }
        if matches!(kind, "run.completed" | "run.failed") {
            self.resumes.retain(|p| Some(&p.run_id) != run);
        }
        self.send(Message::Text(frame.json.clone().into())).await
    }

    async fn apply(&mut self, effects: Vec<Effect>) -> Flow {
        for effect in effects {
            let flow = match effect {
                Effect::Send(text) => self.send(Message::Text(text.into())).await,
                Effect::Subscribe(workspace) => {
                    if self.live.as_ref().is_none_or(|(w, _)| *w != workspace) {
                        let sub = self.hub.subscribe(&workspace, self.settings.buffer_frames);
                        self.live = Some((workspace, sub));
                    }
                    Flow::Continue
                }
                Effect::Unsubscribe(workspace) => {
                    if self.live.as_ref().is_some_and(|(w, _)| *w == workspace) {
                        self.live = None;
                        self.resumes.clear();
                    }
                    Flow::Continue
                }
                Effect::Replay {
                    workspace,
                    run_id,
                    after,
                } => self.replay(&workspace, &run_id, after).await,
                Effect::Close { code, reason } => {
                    self.close(code, reason).await;
                    Flow::Stop
                }
            };
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Sends the run's stored frames; live frames wait in the hub buffer meanwhile and are
    /// filtered by the resume point afterwards.
    async fn replay(&mut self, workspace: &WorkspaceId, run_id: &RunId, after: u64) -> Flow {
        let channel = channel_of(workspace);
        let mut replay = match Replay::start(&self.state.ports, workspace, run_id, after).await {
            Ok(replay) => replay,
            Err(e) => return self.replay_failed(&channel, &e).await,
        };
        let mut flow = Flow::Continue;
        loop {
            match replay.next_batch().await {
                Ok(Some(frames)) => {
                    for frame in frames {
                        if self.send(Message::Text(frame.into())).await == Flow::Stop {
                            return Flow::Stop;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    flow = self.replay_failed(&channel, &e).await;
                    break;
                }
            }
        }
        self.resumes.retain(|p| p.run_id != *run_id);
        if self.resumes.len() >= MAX_RESUME_POINTS {
            self.resumes.remove(0);
        }
        self.resumes.push(replay.point().clone());
        flow
    }

    async fn replay_failed(&mut self, channel: &str, e: &ReplayError) -> Flow {
        if !matches!(e, ReplayError::NoSuchRun) {
            tracing::error!(error = %e, source = ?std::error::Error::source(e), "log replay failed");
        }
        let text = protocol::error(Some(channel), e.client_message());
        self.send(Message::Text(text.into())).await
    }

    /// One write, bounded in time: a client that does not read is gone, not waited for.
    async fn send(&mut self, message: Message) -> Flow {
        match timeout(self.settings.send_timeout, self.socket.send(message)).await {
            Ok(Ok(())) => {
                self.touch();
                Flow::Continue
            }
            Ok(Err(_)) => Flow::Stop,
            Err(_) => {
                tracing::info!(
                    workspace = ?self.session.workspace(),
                    "websocket client disconnected: a write timed out"
                );
                Flow::Stop
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = timeout(
            self.settings.send_timeout,
            self.socket.send(Message::Close(Some(frame))),
        )
        .await;
    }

    /// Traffic in either direction postpones the keep-alive ping.
    fn touch(&mut self) {
        let at = Instant::now() + self.settings.keepalive;
        self.idle.as_mut().reset(at);
    }
}

/// The next live frame; pending forever while not subscribed.
async fn next_live(live: &mut Option<(WorkspaceId, Subscription)>) -> Option<Arc<HubFrame>> {
    match live {
        Some((_, sub)) => sub.rx.recv().await,
        None => std::future::pending().await,
    }
}
