//! Shared state of the router: the ports, the configuration, and the few in-process structures
//! (token set, rate limiter) built once at start-up.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crewship_core::broadcast::Hub;
use crewship_core::ports::Ports;

use crate::config::HandlerConfig;
use crate::monitor::TokenSet;
use crewship_core::ingest::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

pub struct Inner {
    pub ports: Ports,
    pub config: HandlerConfig,
    pub tokens: TokenSet,
    pub limiter: RateLimiter,
    /// The in-process hub the local `/ws` endpoint serves from; `None` where live events travel
    /// another way (API Gateway WebSocket in the cloud).
    pub hub: Option<Arc<Hub>>,
    /// `/ws` connections that have not authenticated yet (`WsSettings::max_unauthenticated`).
    pub ws_unauthenticated: Arc<AtomicUsize>,
}

impl AppState {
    pub fn new(ports: Ports, config: HandlerConfig, hub: Option<Arc<Hub>>) -> Self {
        let tokens = TokenSet::new(&config.tokens);
        Self {
            inner: Arc::new(Inner {
                ports,
                config,
                tokens,
                limiter: RateLimiter::default(),
                hub,
                ws_unauthenticated: Arc::default(),
            }),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}
