//! The handler: one axum router for the webhook ingress, the monitoring API and the internal
//! API, served unchanged by the local runner (hyper) and by Lambda (`lambda_http`).
//!
//! - [`config`]: the handler's settings (from the one settings model) and the prerequisites of
//!   `docs/webhooks.md` step 1.
//! - [`state`]: what every request can reach.
//! - [`trigger`]: `POST /api/v1/webhooks/{crewId}/{agentId}/trigger` (`docs/webhooks.md`).
//! - [`monitor`]: runs, logs and cancellation (`docs/monitoring.md`); replay (`docs/replay.md`).
//! - [`ws`]: live runs over WebSocket (`docs/monitoring.md`, Live runs): the protocol, log replay,
//!   the local transport.
//! - [`internal`]: the internal-token API (`docs/agents.md`).
//! - [`agents`]: agent management and webhook-secret rotation (`docs/agents.md`).
//! - [`ui`]: the dashboard at `GET /ui/` (`GET /` redirects there).
//! - [`serve`]: serving a router with the connection limits (deadlines, caps).
//! - [`telemetry`]: the tracing set-up of every bin, with the dependencies' wire logs capped.
//! - [`error`]: the JSON error type.
//! - [`extract`]: path and query extractors that reject with that JSON error.

pub mod agents;
pub mod config;
pub mod error;
pub mod extract;
pub mod internal;
pub mod monitor;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod trigger;
pub mod ui;
pub mod ws;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use crewship_core::error_code::ErrorCode;
use serde_json::json;

pub use config::{ApiToken, HandlerConfig, Prerequisites, WsSettings};
pub use serve::{ConnectionLimits, TlsAcceptor, serve, serve_tls};
pub use state::AppState;

use crate::error::ApiError;

/// The whole HTTP surface. When a prerequisite of `docs/webhooks.md` step 1 is missing, the trigger
/// and monitoring routes are not registered at all (they answer `404`), and this says which, once.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .merge(ui::routes());
    match state.config.missing_prerequisite() {
        Some(missing) => {
            tracing::warn!(
                missing,
                "webhook and monitoring routes are not registered: a prerequisite is missing"
            );
        }
        None => {
            router = router
                .route(
                    "/api/v1/webhooks/{crew}/{agent}/trigger",
                    post(trigger::trigger).fallback(method_not_allowed),
                )
                .route("/api/v1/runs/{id}", get(monitor::get_run))
                .route("/api/v1/runs/{id}/cancel", post(monitor::cancel_run))
                .route("/api/v1/runs/{id}/replay", post(monitor::replay_run))
                .route("/api/v1/runs/{id}/callbacks", get(monitor::run_callbacks))
                .route("/api/v1/agents", get(agents::workspace_agents))
                .route("/api/v1/agents/{agent}/runs", get(monitor::list_runs))
                .route(
                    "/api/v1/agents/{agent}/runs/replay",
                    post(monitor::replay_runs),
                )
                .route("/api/v1/agents/{agent}/logs", get(monitor::list_logs))
                .route(
                    "/api/v1/internal/agents/{agent}/webhook-secret",
                    get(internal::webhook_secret),
                )
                .route("/api/v1/internal/agents", get(agents::list_agents))
                .route(
                    "/api/v1/internal/agents/{agent}",
                    put(agents::put_agent)
                        .get(agents::get_agent)
                        .delete(agents::delete_agent),
                )
                .route(
                    "/api/v1/agents/{agent}/webhook-secret/rotate",
                    post(agents::rotate_secret),
                )
                .route(
                    "/api/v1/agents/{agent}/sources/{index}/secret",
                    put(agents::set_source_secret),
                );
            // Served here only where live events are in process; in the cloud, API Gateway
            // WebSocket carries the same protocol.
            if state.hub.is_some() {
                router = router.route("/ws", get(ws::local::upgrade));
            }
        }
    }
    router
        .method_not_allowed_fallback(method_not_allowed_here)
        .fallback(not_found)
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Every other route's `405` (axum adds the `Allow` header): JSON like every error.
async fn method_not_allowed_here() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not accept that method",
    )
}

async fn method_not_allowed() -> Response {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint accepts POST only",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
