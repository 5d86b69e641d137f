//! The WebSocket protocol of `docs/monitoring.md`, Live runs without any transport: a client frame
//! goes in, the replies and the actions the transport must take come out. The local axum endpoint
//! and an API Gateway WebSocket Lambda drive the same [`Session`], so both speak exactly one
//! protocol.
//!
//! A session is unauthenticated until a valid bearer token arrives, on the upgrade request
//! ([`Session::authenticated`]) or in an `auth` frame. A token belongs to one workspace, so the
//! only channel a session may subscribe to is `workspace:<its workspace>`.

use std::collections::BTreeSet;

use crewship_core::ids::{RunId, WorkspaceId};
use crewship_core::json_depth;
use serde::Deserialize;
use serde_json::json;

use crate::monitor::TokenSet;

/// Largest client frame the protocol accepts (`docs/monitoring.md`, Live runs), whatever the
/// transport allows.
pub const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;

/// WebSocket close codes the protocol uses (RFC 6455 §7.4.1).
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_TOO_BIG: u16 = 1009;
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ClientFrame {
    Auth {
        token: String,
    },
    Subscribe {
        channel: String,
        run_id: Option<String>,
        after: Option<u64>,
    },
    Unsubscribe {
        channel: String,
    },
    Ping,
    Pong,
}

/// What the transport must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this text frame to the client.
    Send(String),
    /// Start delivering the workspace's live frames to this connection. Idempotent. Comes
    /// before the `subscribed` acknowledgement, so that nothing published after the client
    /// read it can be missed.
    Subscribe(WorkspaceId),
    /// Stop delivering the workspace's frames. Idempotent.
    Unsubscribe(WorkspaceId),
    /// Send the run's stored log entries with `seq > after` (see `ws::replay`), then keep
    /// delivering the run's live frames without the ones already sent. Always follows a
    /// `Subscribe` of the same workspace, so no live frame can fall between the two.
    Replay {
        workspace: WorkspaceId,
        run_id: RunId,
        after: u64,
    },
    /// Close the connection after the frames before it.
    Close { code: u16, reason: &'static str },
}

#[derive(Debug, Default)]
pub struct Session {
    workspace: Option<WorkspaceId>,
    channels: BTreeSet<WorkspaceId>,
}

impl Session {
    /// A connection that has not authenticated yet: it must send an `auth` frame in time.
    pub fn new() -> Self {
        Self::default()
    }

    /// A connection whose upgrade request carried a valid bearer token.
    pub fn authenticated(workspace: WorkspaceId) -> Self {
        Self {
            workspace: Some(workspace),
            channels: BTreeSet::new(),
        }
    }

    /// A session whose state was persisted between requests (a stateless transport such as
    /// the API Gateway WebSocket Lambda keeps it in a connection record). Channels outside
    /// the workspace are dropped: a record can never widen what the token allowed.
    pub fn restore(
        workspace: Option<WorkspaceId>,
        channels: impl IntoIterator<Item = WorkspaceId>,
    ) -> Self {
        let channels = channels
            .into_iter()
            .filter(|c| Some(c) == workspace.as_ref())
            .collect();
        Self {
            workspace,
            channels,
        }
    }

    pub fn workspace(&self) -> Option<&WorkspaceId> {
        self.workspace.as_ref()
    }

    pub fn is_authenticated(&self) -> bool {
        self.workspace.is_some()
    }

    /// The workspaces whose frames this connection receives.
    pub fn channels(&self) -> impl Iterator<Item = &WorkspaceId> {
        self.channels.iter()
    }

    /// The authentication window passed. Closes the connection unless it authenticated.
    pub fn auth_timed_out(&mut self) -> Vec<Effect> {
        if self.is_authenticated() {
            return Vec::new();
        }
        vec![
            Effect::Send(unauthenticated()),
            Effect::Close {
                code: CLOSE_POLICY,
                reason: "authentication timed out",
            },
        ]
    }

    /// A frame the client sent that is too large for the transport to even read.
    pub fn frame_too_large(&mut self) -> Vec<Effect> {
        vec![
            Effect::Send(error(None, "frame too large: at most 64 KiB")),
            Effect::Close {
                code: CLOSE_TOO_BIG,
                reason: "frame too large",
            },
        ]
    }

    /// A binary frame: the protocol is JSON text.
    pub fn handle_binary(&mut self) -> Vec<Effect> {
        vec![Effect::Send(error(None, "binary frames are not supported"))]
    }

    /// One text frame from the client.
    pub fn handle_text(&mut self, text: &str, tokens: &TokenSet) -> Vec<Effect> {
        if text.len() > MAX_CLIENT_FRAME_BYTES {
            return self.frame_too_large();
        }
        // The protocol's frames are flat; the same nesting limit as every other JSON the
        // service reads keeps a hostile frame from costing more than its bytes.
        if let Err(e) = json_depth::check(text.as_bytes(), json_depth::DEFAULT_MAX_DEPTH) {
            return vec![Effect::Send(error(None, &format!("invalid frame: {e}")))];
        }
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => return vec![Effect::Send(error(None, &format!("invalid frame: {e}")))],
        };
        match frame {
            ClientFrame::Ping => vec![Effect::Send(json!({"type": "pong"}).to_string())],
            ClientFrame::Pong => Vec::new(),
            ClientFrame::Auth { token } => self.auth(&token, tokens),
            ClientFrame::Subscribe {
                channel,
                run_id,
                after,
            } => self.subscribe(channel, run_id, after),
            ClientFrame::Unsubscribe { channel } => self.unsubscribe(channel),
        }
    }

    fn auth(&mut self, token: &str, tokens: &TokenSet) -> Vec<Effect> {
        let Some(workspace) = tokens.workspace_of(token).filter(|_| !token.is_empty()) else {
            self.workspace = None;
            self.channels.clear();
            return vec![
                Effect::Send(unauthenticated()),
                Effect::Close {
                    code: CLOSE_POLICY,
                    reason: "unauthenticated",
                },
            ];
        };
        // A token of another workspace replaces the session's: its channels end with it.
        let mut effects: Vec<Effect> = self
            .channels
            .iter()
            .filter(|c| **c != workspace)
            .cloned()
            .map(Effect::Unsubscribe)
            .collect();
        self.channels.retain(|c| *c == workspace);
        self.workspace = Some(workspace);
        effects.push(Effect::Send(json!({"type": "authenticated"}).to_string()));
        effects
    }

    fn subscribe(
        &mut self,
        channel: String,
        run_id: Option<String>,
        after: Option<u64>,
    ) -> Vec<Effect> {
        let Some(own) = self.workspace.clone() else {
            return self.refuse_unauthenticated();
        };
        // Any channel but the caller's own is denied alike, existing or not, well-formed or not.
        let Some(workspace) = parse_channel(&channel).filter(|w| *w == own) else {
            return vec![Effect::Send(error(Some(&channel), "access denied"))];
        };
        let resume = match (run_id, after) {
            (None, None) => None,
            (None, Some(_)) => {
                return vec![Effect::Send(error(
                    Some(&channel),
                    "`after` is a sequence number within one run: it needs `run_id`",
                ))];
            }
            (Some(run_id), after) => match run_id.parse::<RunId>() {
                Ok(run_id) => Some((run_id, after.unwrap_or(0))),
                Err(_) => {
                    return vec![Effect::Send(error(Some(&channel), "no such run"))];
                }
            },
        };
        self.channels.insert(workspace.clone());
        // The subscription first: once the client reads `subscribed`, no event may be missed.
        let mut effects = vec![
            Effect::Subscribe(workspace.clone()),
            Effect::Send(json!({"type": "subscribed", "channel": channel}).to_string()),
        ];
        if let Some((run_id, after)) = resume {
            effects.push(Effect::Replay {
                workspace,
                run_id,
                after,
            });
        }
        effects
    }

    fn unsubscribe(&mut self, channel: String) -> Vec<Effect> {
        if !self.is_authenticated() {
            return self.refuse_unauthenticated();
        }
        let mut effects = Vec::new();
        if let Some(workspace) = parse_channel(&channel).filter(|w| self.channels.remove(w)) {
            effects.push(Effect::Unsubscribe(workspace));
        }
        effects.push(Effect::Send(
            json!({"type": "unsubscribed", "channel": channel}).to_string(),
        ));
        effects
    }

    fn refuse_unauthenticated(&mut self) -> Vec<Effect> {
        vec![
            Effect::Send(unauthenticated()),
            Effect::Close {
                code: CLOSE_POLICY,
                reason: "unauthenticated",
            },
        ]
    }
}

/// `workspace:<id>` → the workspace id.
pub fn parse_channel(channel: &str) -> Option<WorkspaceId> {
    channel.strip_prefix("workspace:")?.parse().ok()
}

/// `{"type":"error","payload":{"message":…}}`, with the channel it concerns if any.
pub fn error(channel: Option<&str>, message: &str) -> String {
    match channel {
        Some(channel) => {
            json!({"type": "error", "channel": channel, "payload": {"message": message}})
        }
        None => json!({"type": "error", "payload": {"message": message}}),
    }
    .to_string()
}

fn unauthenticated() -> String {
    error(None, "unauthenticated")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiToken;
    use crewship_core::secret::Secret;
    use serde_json::Value;

    fn tokens() -> TokenSet {
        TokenSet::new(&[
            ApiToken {
                token: Secret::new("tok-a"),
                workspace_id: "a".parse().unwrap(),
            },
            ApiToken {
                token: Secret::new("tok-b"),
                workspace_id: "b".parse().unwrap(),
            },
        ])
    }

    fn sent(effects: &[Effect]) -> Vec<Value> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(text) => Some(serde_json::from_str(text).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn closes(effects: &[Effect]) -> bool {
        matches!(effects.last(), Some(Effect::Close { .. }))
    }

    fn ws(id: &str) -> WorkspaceId {
        id.parse().unwrap()
    }

    #[test]
    fn auth_frame_with_a_valid_token_authenticates() {
        let mut s = Session::new();
        let effects = s.handle_text(r#"{"type":"auth","token":"tok-a"}"#, &tokens());
        assert_eq!(sent(&effects), [json!({"type": "authenticated"})]);
        assert!(!closes(&effects));
        assert_eq!(s.workspace(), Some(&ws("a")));
    }

    #[test]
    fn auth_frame_with_a_bad_token_is_unauthenticated_and_closes() {
        for token in ["nope", "", "tok-a "] {
            let mut s = Session::new();
            let frame = json!({"type": "auth", "token": token}).to_string();
            let effects = s.handle_text(&frame, &tokens());
            assert_eq!(
                sent(&effects),
                [json!({"type": "error", "payload": {"message": "unauthenticated"}})]
            );
            assert!(closes(&effects), "{token:?}");
            assert!(!s.is_authenticated());
        }
    }

    #[test]
    fn a_deeply_nested_frame_is_an_error_frame_and_the_session_goes_on() {
        let mut s = Session::authenticated(ws("a"));
        let deep = format!(
            r#"{{"type":"ping","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let effects = s.handle_text(&deep, &tokens());
        let message = sent(&effects)[0]["payload"]["message"].clone();
        assert!(
            message.as_str().unwrap().contains("deeper than 128"),
            "{message}"
        );
        assert!(!closes(&effects));
        let effects = s.handle_text(r#"{"type":"ping"}"#, &tokens());
        assert_eq!(sent(&effects)[0]["type"], "pong");
    }

    #[test]
    fn subscribe_or_unsubscribe_before_auth_is_unauthenticated_and_closes() {
        for frame in [
            r#"{"type":"subscribe","channel":"workspace:a"}"#,
            r#"{"type":"unsubscribe","channel":"workspace:a"}"#,
        ] {
            let effects = Session::new().handle_text(frame, &tokens());
            assert_eq!(sent(&effects)[0]["payload"]["message"], "unauthenticated");
            assert!(closes(&effects));
            assert!(!effects.iter().any(|e| matches!(e, Effect::Subscribe(_))));
        }
    }

    #[test]
    fn own_workspace_is_subscribed_others_are_denied() {
        let mut s = Session::authenticated(ws("a"));
        let effects = s.handle_text(r#"{"type":"subscribe","channel":"workspace:a"}"#, &tokens());
        assert_eq!(
            sent(&effects),
            [json!({"type": "subscribed", "channel": "workspace:a"})]
        );
        assert!(effects.contains(&Effect::Subscribe(ws("a"))));
        for channel in [
            "workspace:b",
            "workspace:nope",
            "workspace:",
            "a",
            "workspace:a/../b",
        ] {
            let frame = json!({"type": "subscribe", "channel": channel}).to_string();
            let effects = s.handle_text(&frame, &tokens());
            assert_eq!(
                effects,
                [Effect::Send(
                    json!({"type": "error", "channel": channel, "payload": {"message": "access denied"}})
                        .to_string()
                )],
                "{channel}"
            );
        }
        assert_eq!(s.channels().collect::<Vec<_>>(), [&ws("a")]);
    }

    #[test]
    fn subscribe_with_run_and_after_asks_for_a_replay_after_the_subscription() {
        let mut s = Session::authenticated(ws("a"));
        let frame = r#"{"type":"subscribe","channel":"workspace:a","run_id":"run_1","after":7}"#;
        let effects = s.handle_text(frame, &tokens());
        assert_eq!(effects[0], Effect::Subscribe(ws("a")));
        assert_eq!(
            sent(&effects),
            [json!({"type": "subscribed", "channel": "workspace:a"})]
        );
        assert_eq!(
            effects[2..],
            [Effect::Replay {
                workspace: ws("a"),
                run_id: "run_1".parse().unwrap(),
                after: 7
            }]
        );
        let frame = r#"{"type":"subscribe","channel":"workspace:a","run_id":"run_1"}"#;
        let effects = s.handle_text(frame, &tokens());
        assert!(matches!(
            effects.last(),
            Some(Effect::Replay { after: 0, .. })
        ));
    }

    #[test]
    fn after_without_run_id_is_an_error_and_subscribes_nothing() {
        let mut s = Session::authenticated(ws("a"));
        let effects = s.handle_text(
            r#"{"type":"subscribe","channel":"workspace:a","after":3}"#,
            &tokens(),
        );
        assert_eq!(sent(&effects)[0]["type"], "error");
        assert_eq!(sent(&effects)[0]["channel"], "workspace:a");
        assert_eq!(effects.len(), 1);
    }

    #[test]
    fn unsubscribe_is_acknowledged_and_idempotent() {
        let mut s = Session::authenticated(ws("a"));
        s.handle_text(r#"{"type":"subscribe","channel":"workspace:a"}"#, &tokens());
        let frame = r#"{"type":"unsubscribe","channel":"workspace:a"}"#;
        let effects = s.handle_text(frame, &tokens());
        assert_eq!(effects[0], Effect::Unsubscribe(ws("a")));
        assert_eq!(
            sent(&effects),
            [json!({"type": "unsubscribed", "channel": "workspace:a"})]
        );
        let effects = s.handle_text(frame, &tokens());
        assert_eq!(effects.len(), 1);
        assert_eq!(s.channels().count(), 0);
    }

    #[test]
    fn ping_is_answered_with_pong_even_before_auth() {
        let effects = Session::new().handle_text(r#"{"type":"ping"}"#, &tokens());
        assert_eq!(effects, [Effect::Send(r#"{"type":"pong"}"#.into())]);
    }

    #[test]
    fn malformed_frames_get_an_error_and_keep_the_connection() {
        let mut s = Session::authenticated(ws("a"));
        for frame in [
            "not json",
            "[]",
            r#"{"type":"dance"}"#,
            r#"{"channel":"workspace:a"}"#,
            r#"{"type":"subscribe","channel":"workspace:a","run_id":"r","after":-1}"#,
        ] {
            let effects = s.handle_text(frame, &tokens());
            assert_eq!(effects.len(), 1, "{frame}");
            let reply = &sent(&effects)[0];
            assert_eq!(reply["type"], "error", "{frame}");
            assert!(
                reply["payload"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("invalid frame"),
                "{frame}: {reply}"
            );
        }
        assert!(s.is_authenticated());
    }

    #[test]
    fn frames_over_64_kib_are_refused_and_close() {
        let mut s = Session::authenticated(ws("a"));
        let big = format!(r#"{{"type":"ping","x":"{}"}}"#, "x".repeat(64 * 1024));
        let effects = s.handle_text(&big, &tokens());
        assert!(matches!(
            effects.last(),
            Some(Effect::Close {
                code: CLOSE_TOO_BIG,
                ..
            })
        ));
    }

    #[test]
    fn auth_timeout_closes_only_unauthenticated_sessions() {
        assert!(Session::authenticated(ws("a")).auth_timed_out().is_empty());
        let effects = Session::new().auth_timed_out();
        assert_eq!(sent(&effects)[0]["payload"]["message"], "unauthenticated");
        assert!(closes(&effects));
    }

    #[test]
    fn restored_sessions_keep_only_their_own_workspace_channels() {
        let s = Session::restore(Some(ws("a")), [ws("a"), ws("b")]);
        assert_eq!(s.channels().collect::<Vec<_>>(), [&ws("a")]);
        let s = Session::restore(None, [ws("a")]);
        assert!(!s.is_authenticated());
        assert_eq!(s.channels().count(), 0);
    }

    #[test]
    fn re_authenticating_as_another_workspace_drops_the_old_channels() {
        let mut s = Session::authenticated(ws("a"));
        s.handle_text(r#"{"type":"subscribe","channel":"workspace:a"}"#, &tokens());
        let effects = s.handle_text(r#"{"type":"auth","token":"tok-b"}"#, &tokens());
        assert_eq!(effects[0], Effect::Unsubscribe(ws("a")));
        assert_eq!(s.workspace(), Some(&ws("b")));
        assert_eq!(s.channels().count(), 0);
    }
}
