//! The ports as one bundle, built once at start-up from configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::broadcast::{Broadcaster, Hub};
use crate::callbacks::{CallbackOutbox, MemoryOutbox};
use crate::clock::{Clock, SystemClock};
use crate::intake::{RunIntake, SeparateIntake};
use crate::logs::{LogSink, MemoryLogs};
use crate::queue::{MemoryQueue, RunQueue};
use crate::registry::AgentRegistry;
use crate::retention::{MemoryRetention, Retention};
use crate::store::{ChatStore, DedupStore, MemoryStore, RunStore};

#[derive(Clone)]
pub struct Ports {
    pub runs: Arc<dyn RunStore>,
    pub dedup: Arc<dyn DedupStore>,
    pub chats: Arc<dyn ChatStore>,
    pub queue: Arc<dyn RunQueue>,
    /// A new run and its queue message, written together (over `runs` and `queue`).
    pub intake: Arc<dyn RunIntake>,
    pub agents: Arc<dyn AgentRegistry>,
    pub logs: Arc<dyn LogSink>,
    pub broadcaster: Arc<dyn Broadcaster>,
    /// Completion callbacks waiting to be delivered (`docs/callbacks.md`).
    pub callbacks: Arc<dyn CallbackOutbox>,
    pub clock: Arc<dyn Clock>,
}

/// The in-memory adapters, with handles to the concrete ones that tests and the local
/// WebSocket endpoint need.
pub struct MemoryPorts {
    pub ports: Ports,
    pub store: Arc<MemoryStore>,
    pub logs: Arc<MemoryLogs>,
    /// The sweep over `store` and `logs` (docs/stores.md, Retention).
    pub retention: Arc<dyn Retention>,
    pub queue: Arc<MemoryQueue>,
    pub hub: Arc<Hub>,
    pub outbox: Arc<MemoryOutbox>,
}

impl MemoryPorts {
    pub fn new(agents: Arc<dyn AgentRegistry>, queue_visibility: Duration) -> Self {
        let store = Arc::new(MemoryStore::new());
        let logs = Arc::new(MemoryLogs::new());
        let queue = Arc::new(MemoryQueue::new(queue_visibility));
        let hub = Arc::new(Hub::new());
        let outbox = Arc::new(MemoryOutbox::new());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ports = Ports {
            intake: Arc::new(SeparateIntake::new(
                store.clone(),
                queue.clone(),
                clock.clone(),
            )),
            runs: store.clone(),
            dedup: store.clone(),
            chats: store.clone(),
            queue: queue.clone(),
            agents,
            logs: logs.clone(),
            broadcaster: hub.clone(),
            callbacks: outbox.clone(),
            clock,
        };
        Self {
            ports,
            retention: Arc::new(MemoryRetention::new(
                store.clone(),
                logs.clone(),
                outbox.clone(),
            )),
            store,
            logs,
            queue,
            hub,
            outbox,
        }
    }
}
