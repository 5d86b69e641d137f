//! Handler settings, taken from the `[server]` section of the one settings model
//! (`crewship-settings`, docs/configuration.md) by [`HandlerConfig::from_settings`].

use std::time::Duration;

pub use crewship_core::api_token::ApiToken;
use crewship_core::secret::Secret;
use time::OffsetDateTime;
use time::macros::datetime;

/// When the plaintext `X-Webhook-Secret` header stops being accepted, unless configured.
pub const DEFAULT_LEGACY_SUNSET: OffsetDateTime = datetime!(2026-12-31 23:59:59 UTC);

/// How long a rotated-out secret keeps verifying, unless configured.
pub const DEFAULT_SECRET_ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct HandlerConfig {
    pub body_limit_bytes: usize,
    /// Deepest nesting accepted in any JSON body: webhooks, management bodies, `/ws` frames.
    pub max_json_depth: usize,
    pub timestamp_tolerance: Duration,
    pub dedup_window: Duration,
    pub legacy_secret_sunset: OffsetDateTime,
    pub internal_token: Option<Secret>,
    /// Monitoring API tokens, each bound to one workspace.
    pub tokens: Vec<ApiToken>,
    pub prerequisites: Prerequisites,
    /// How long the previous webhook secret keeps verifying after a rotation (SPEC §6);
    /// zero ends it at once.
    pub secret_rotation_grace: Duration,
    /// The executor's run timeout: no agent may ask for a longer `timeout_secs`.
    pub run_timeout: Duration,
    /// Limits and timers of the `/ws` endpoint (SPEC §5.3).
    pub ws: WsSettings,
}

/// The WebSocket endpoint's limits and timers. The defaults are the contract's; tests shorten
/// the timers.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// How long an unauthenticated connection may wait before its `auth` frame.
    pub auth_timeout: Duration,
    /// Idle time after which the server sends a keep-alive ping.
    pub keepalive: Duration,
    /// Largest client message (and frame) accepted.
    pub max_client_frame_bytes: usize,
    /// Frames a subscriber may fall behind before it is disconnected as a slow consumer.
    pub buffer_frames: usize,
    /// How long one write to a client may take before the client counts as gone.
    pub send_timeout: Duration,
    /// Connections that have not authenticated yet, at most; past it an upgrade is `503`. An
    /// authenticated or closed connection frees its place at once.
    pub max_unauthenticated: usize,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            auth_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            max_client_frame_bytes: 64 * 1024,
            buffer_frames: 1024,
            send_timeout: Duration::from_secs(10),
            max_unauthenticated: 1024,
        }
    }
}

/// What the bins have wired up, by name, for SPEC §1 step 1. The trigger and monitoring routes
/// exist only when all four are present.
#[derive(Debug, Clone, Default)]
pub struct Prerequisites {
    pub orchestrator: Option<String>,
    pub container_runtime: Option<String>,
    pub log_writer: Option<String>,
}

impl HandlerConfig {
    pub fn new(internal_token: Option<Secret>, prerequisites: Prerequisites) -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            max_json_depth: crewship_core::json_depth::DEFAULT_MAX_DEPTH,
            timestamp_tolerance: Duration::from_secs(300),
            dedup_window: Duration::from_secs(24 * 3600),
            legacy_secret_sunset: DEFAULT_LEGACY_SUNSET,
            internal_token,
            tokens: Vec::new(),
            prerequisites,
            secret_rotation_grace: DEFAULT_SECRET_ROTATION_GRACE,
            run_timeout: Duration::from_secs(600),
            ws: WsSettings::default(),
        }
    }

    /// The handler's part of the settings: `[server]`, and the run timeout no agent may exceed.
    /// The tokens are the caller's, who may have generated some (local-runner prints them).
    pub fn from_settings(
        settings: &crewship_settings::Settings,
        tokens: Vec<ApiToken>,
        prerequisites: Prerequisites,
    ) -> Self {
        let s = &settings.server;
        let mut config = Self::new(s.internal_token.clone(), prerequisites);
        config.body_limit_bytes = s.body_limit_bytes;
        config.max_json_depth = s.max_json_depth;
        config.timestamp_tolerance = Duration::from_secs(s.timestamp_tolerance_secs);
        config.dedup_window = Duration::from_secs(s.dedup_window_secs);
        config.legacy_secret_sunset = s.legacy_secret_sunset;
        config.secret_rotation_grace = Duration::from_secs(s.secret_rotation_grace_secs);
        config.run_timeout = settings.executor.run_timeout();
        config.tokens = tokens;
        config
    }

    /// The first missing prerequisite, in SPEC order.
    pub fn missing_prerequisite(&self) -> Option<&'static str> {
        let p = &self.prerequisites;
        if p.orchestrator.is_none() {
            Some("agent registry (orchestrator)")
        } else if p.container_runtime.is_none() {
            Some("container runtime (Keeper)")
        } else if p.log_writer.is_none() {
            Some("log writer")
        } else if self.internal_token.as_ref().is_none_or(Secret::is_empty) {
            Some("internal token")
        } else {
            None
        }
    }
}
