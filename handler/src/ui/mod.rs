//! The dashboard (`GET /ui/`): a small single-page app over the monitoring API and `/ws`,
//! served from the binary itself so every deployment of the router has it and it works offline.
//!
//! - [`assets`]: the embedded HTML, CSS and JavaScript modules, and the headers every UI answer
//!   carries.
//!
//! The page holds no data of its own: it signs in with a monitoring token (kept in the browser's
//! `sessionStorage`) and calls the same API as `curl` would.

pub mod assets;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::state::AppState;

/// `/` and `/ui` redirect to `/ui/`; `/ui/` and its assets are static.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(assets::index))
        .route("/ui/{file}", get(assets::file))
}
