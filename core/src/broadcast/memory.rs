//! In-process fan-out to WebSocket connections, with a bounded buffer per subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{BroadcastEvent, Broadcaster};
use crate::ids::{RunId, WorkspaceId};

/// A frame serialised once and shared by every subscriber.
#[derive(Debug)]
pub struct HubFrame {
    /// `agent.log`, `run.started`, `run.completed` or `run.failed`.
    pub frame_type: &'static str,
    pub run_id: Option<RunId>,
    pub seq: Option<u64>,
    pub json: String,
}

/// Receives a workspace's frames. When it falls `capacity` frames behind, the hub drops it and
/// `rx` ends: the connection is closed rather than allowed to slow anyone down.
pub struct Subscription {
    pub rx: mpsc::Receiver<Arc<HubFrame>>,
}

type Subscribers = HashMap<WorkspaceId, Vec<mpsc::Sender<Arc<HubFrame>>>>;

#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Subscribers>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, workspace: &WorkspaceId, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity);
        self.subscribers
            .lock()
            .unwrap()
            .entry(workspace.clone())
            .or_default()
            .push(tx);
        Subscription { rx }
    }

    pub fn subscriber_count(&self, workspace: &WorkspaceId) -> usize {
        self.subscribers
            .lock()
            .unwrap()
            .get(workspace)
            .map_or(0, |subs| subs.iter().filter(|tx| !tx.is_closed()).count())
    }
}

impl Broadcaster for Hub {
    fn publish(&self, workspace: &WorkspaceId, event: BroadcastEvent) {
        let mut subscribers = self.subscribers.lock().unwrap();
        let Some(subs) = subscribers.get_mut(workspace).filter(|s| !s.is_empty()) else {
            return;
        };
        let (run_id, seq) = event.position();
        let frame = Arc::new(HubFrame {
            frame_type: event.frame_type(),
            run_id: run_id.cloned(),
            seq,
            json: event.to_frame(workspace),
        });
        // try_send never waits: a full buffer drops that subscriber, a closed one is pruned.
        subs.retain(|tx| tx.try_send(frame.clone()).is_ok());
    }
}
