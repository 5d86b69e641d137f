//! Live runs over WebSocket (`docs/monitoring.md`, Live runs).
//!
//! - [`protocol`]: the protocol itself, transport-free: client frames in, replies and actions
//!   out. Every transport drives it, so they all behave alike.
//! - [`replay`]: resuming a run's log after a reconnect, transport-free too.
//! - [`local`]: `GET /ws` served by axum from the in-process hub (the local runner).

pub mod local;
pub mod protocol;
pub mod replay;
pub mod unauthenticated;
