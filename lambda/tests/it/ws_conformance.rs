//! The frame-level conformance suite of the local `/ws` (`crewship_test_support::ws_conformance`),
//! run unchanged against the Lambda code path: every client frame is a `$default` event
//! through `WsFunction`, replies and live frames come back through `PostToConnection` (here a
//! recording poster), connections are kept in the in-memory `ConnectionStore`, and the
//! executor's events reach clients through `ApiGatewayBroadcaster`. The shim: a
//! request/response transport has no socket, so a `WsClient` is a connection id whose
//! `send` invokes the function and whose `recv` reads what was posted to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::ports::{MemoryPorts, Ports};
use crewship_core::registry::MemoryRegistry;
use crewship_lambda::ws::broadcaster::DEFAULT_CAPACITY;
use crewship_lambda::ws::{ApiGatewayBroadcaster, MemoryConnections, WsFunction};
use crewship_test_support::AgentBuilder;
use crewship_test_support::ws_conformance::{FRAME_WAIT, Incoming, WsClient, WsTransport};
use crewship_test_support::ws_conformance_suite;
use handler::monitor::TokenSet;
use tokio::sync::mpsc;

use crate::ws_support::{Delivered, RecordingPoster, connect, fixture_tokens, message};

struct Cloud {
    function: Arc<WsFunction>,
    poster: Arc<RecordingPoster>,
    next: AtomicU64,
}

async fn cloud() -> Cloud {
    let connections = Arc::new(MemoryConnections::new());
    let poster = Arc::new(RecordingPoster::default());
    let registry = MemoryRegistry::new([
        AgentBuilder::new("a1").crew("c1").workspace("ws").build(),
        AgentBuilder::new("b1")
            .crew("c2")
            .workspace("other")
            .build(),
    ]);
    let mut memory = MemoryPorts::new(Arc::new(registry), Duration::from_secs(30));
    memory.ports.clock = Arc::new(crewship_core::clock::SystemClock);
    memory.ports.broadcaster = Arc::new(ApiGatewayBroadcaster::spawn(
        connections.clone(),
        poster.clone(),
        DEFAULT_CAPACITY,
    ));
    let function = WsFunction {
        tokens: TokenSet::new(&fixture_tokens()),
        connections,
        poster: poster.clone(),
        ports: memory.ports,
    };
    Cloud {
        function: Arc::new(function),
        poster,
        next: AtomicU64::new(1),
    }
}

struct Client {
    id: String,
    function: Arc<WsFunction>,
    frames: mpsc::UnboundedReceiver<Delivered>,
}

#[async_trait]
impl WsClient for Client {
    async fn send(&mut self, text: &str) {
        let response = self.function.handle(message(&self.id, text)).await;
        assert_eq!(response.status_code, 200, "{response:?}");
    }

    async fn recv(&mut self) -> Incoming {
        let next = tokio::time::timeout(FRAME_WAIT, self.frames.recv())
            .await
            .expect("no frame in time");
        match next {
            Some(Delivered::Text(text)) => Incoming::Frame(serde_json::from_str(&text).unwrap()),
            Some(Delivered::Closed) | None => Incoming::Closed,
        }
    }
}

#[async_trait]
impl WsTransport for Cloud {
    async fn connect(&self, bearer: Option<&str>) -> Result<Box<dyn WsClient>, u16> {
        let id = format!("conn-{}=", self.next.fetch_add(1, Ordering::Relaxed));
        let frames = self.poster.open(&id);
        let authorization = bearer.map(|t| format!("Bearer {t}"));
        let response = self
            .function
            .handle(connect(&id, authorization.as_deref(), None))
            .await;
        match response.status_code {
            200 => Ok(Box::new(Client {
                id,
                function: self.function.clone(),
                frames,
            })),
            status => Err(status as u16),
        }
    }

    fn ports(&self) -> &Ports {
        &self.function.ports
    }
}

ws_conformance_suite!(cloud());
