//! The WebSocket Lambda: API Gateway's `$connect`, `$disconnect` and `$default` routes over
//! the shared protocol [`Session`](handler::ws::protocol::Session). Each invocation loads the
//! connection record, lets the session handle the client's frame, persists what changed and
//! posts the replies back with `PostToConnection`.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use crewship_core::ids::WorkspaceId;
use crewship_core::ports::Ports;
use handler::monitor::TokenSet;
use handler::ws::protocol::Effect;
use lambda_http::http;
use time::OffsetDateTime;

use super::broadcaster::send_all;
use super::connections::{ConnectionRecord, ConnectionStore, Resume};
use super::poster::Poster;
use super::resume;

/// Everything an invocation needs, built once per cold start.
pub struct WsFunction {
    pub tokens: TokenSet,
    pub connections: Arc<dyn ConnectionStore>,
    pub poster: Arc<dyn Poster>,
    /// Runs, agents and logs, for resuming (`subscribe` with `run_id` / `after`).
    pub ports: Ports,
}

/// The route an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Connect,
    Disconnect,
    Default,
}

impl WsFunction {
    pub async fn handle(
        &self,
        request: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        let context = &request.request_context;
        let Some(connection_id) = context.connection_id.clone().filter(|c| !c.is_empty()) else {
            return respond(400, "missing connection id");
        };
        let route = match context.route_key.as_deref() {
            Some("$connect") => Route::Connect,
            Some("$disconnect") => Route::Disconnect,
            _ => Route::Default,
        };
        let result = match route {
            Route::Connect => return self.connect(&connection_id, &request).await,
            Route::Disconnect => self.connections.delete(&connection_id).await,
            Route::Default => self.message(&connection_id, &request).await,
        };
        match result {
            Ok(()) => respond(200, ""),
            Err(e) => {
                tracing::error!(connection = %connection_id, ?route, error = %e, "websocket route failed");
                respond(500, "internal error")
            }
        }
    }

    /// A token on the upgrade (`Authorization: Bearer`, or `?token=` for browsers, which
    /// cannot set headers) must be valid: `401` refuses the connection. Without one the
    /// connection is accepted and must authenticate with an `auth` frame.
    async fn connect(
        &self,
        connection_id: &str,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        let workspace = match self.upgrade_token(request) {
            Upgrade::None => None,
            Upgrade::Valid(workspace) => Some(workspace),
            Upgrade::Invalid => return respond(401, "the bearer token is not valid"),
        };
        let connected_at = match request.request_context.connected_at {
            ms if ms > 0 => ms / 1000,
            _ => now(),
        };
        let record = ConnectionRecord::new(connection_id, workspace, connected_at);
        match self.connections.put(&record).await {
            Ok(()) => respond(200, ""),
            Err(e) => {
                tracing::error!(connection = connection_id, error = %e, "connection not recorded");
                respond(500, "internal error")
            }
        }
    }

    fn upgrade_token(&self, request: &ApiGatewayWebsocketProxyRequest) -> Upgrade {
        let header = request
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .filter(|v| !v.is_empty());
        let token = match header {
            Some(value) => match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                _ => return Upgrade::Invalid,
            },
            None => match request.query_string_parameters.first("token") {
                Some(token) => token,
                None => return Upgrade::None,
            },
        };
        match self
            .tokens
            .workspace_of(token)
            .filter(|_| !token.is_empty())
        {
            Some(workspace) => Upgrade::Valid(workspace),
            None => Upgrade::Invalid,
        }
    }

    async fn message(
        &self,
        connection_id: &str,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<(), super::connections::ConnectionError> {
        // A record that expired or never was (a `$connect` that failed to write): the client
        // starts over unauthenticated, which is the safe side.
        let mut record = match self.connections.get(connection_id).await? {
            Some(record) => record,
            None => ConnectionRecord::new(connection_id, None, now()),
        };
        let mut session = record.session();
        let effects = match (&request.body, request.is_base64_encoded) {
            (_, true) => session.handle_binary(),
            (Some(text), false) => session.handle_text(text, &self.tokens),
            (None, false) => session.handle_text("", &self.tokens),
        };
        let resumed = effects.iter().find_map(|e| match e {
            Effect::Replay { run_id, after, .. } => Some(Resume {
                run_id: run_id.clone(),
                last_seq: *after,
                finished: false,
                replaying: true,
                held_seq: None,
                held_finished: false,
            }),
            _ => None,
        });
        let mut persisted = record.clone();
        for effect in effects {
            match effect {
                Effect::Send(text) => {
                    if !send_all(&*self.connections, &*self.poster, connection_id, &[text]).await {
                        return Ok(());
                    }
                }
                // The record is written before the acknowledgement is posted, so the
                // broadcaster reaches this client for anything published after it reads it.
                Effect::Subscribe(_) | Effect::Unsubscribe(_) => {
                    record.store_session(&session);
                    record.resume = if record.channels.is_empty() {
                        None
                    } else {
                        resumed.clone().or(record.resume.take())
                    };
                    self.connections.put(&record).await?;
                    persisted = record.clone();
                }
                Effect::Replay {
                    workspace,
                    run_id,
                    after,
                } => {
                    let replay = resume::Resumption {
                        ports: &self.ports,
                        connections: &*self.connections,
                        poster: &*self.poster,
                        connection_id,
                        workspace: &workspace,
                    };
                    if !replay.run(&run_id, after).await? {
                        return Ok(());
                    }
                }
                Effect::Close { code, reason } => {
                    // API Gateway closes with its own code; the reason went out as a frame.
                    tracing::debug!(connection = connection_id, code, reason, "closing");
                    if let Err(e) = self.poster.close(connection_id).await {
                        tracing::info!(connection = connection_id, error = %e, "close failed");
                    }
                    return self.connections.delete(connection_id).await;
                }
            }
        }
        record.store_session(&session);
        if record.workspace != persisted.workspace || record.channels != persisted.channels {
            self.connections.put(&record).await?;
        }
        Ok(())
    }
}

enum Upgrade {
    None,
    Valid(WorkspaceId),
    Invalid,
}

fn respond(status: i64, body: &str) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    if !body.is_empty() {
        response.body = Some(Body::Text(body.to_owned()));
    }
    response
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
