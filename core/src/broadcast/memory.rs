//! In-process fan-out to WebSocket connections, with a bounded buffer per subscriber.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

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
/// `rx` ends: the connection is closed rather than allowed to slow anyone down. Dropping the
/// subscription removes it from the hub at once: a client that subscribes and unsubscribes in a
/// loop leaves nothing behind (a sender kept until the workspace's next event cost ~1 KiB per
/// cycle).
pub struct Subscription {
    pub rx: mpsc::Receiver<Arc<HubFrame>>,
    workspace: WorkspaceId,
    id: u64,
    subscribers: Weak<Mutex<Subscribers>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(subscribers) = self.subscribers.upgrade() else {
            return;
        };
        let mut subscribers = subscribers.lock().unwrap();
        if let Some(subs) = subscribers.get_mut(&self.workspace) {
            subs.remove(&self.id);
            if subs.is_empty() {
                subscribers.remove(&self.workspace);
            }
        }
    }
}

type Subscribers = HashMap<WorkspaceId, HashMap<u64, mpsc::Sender<Arc<HubFrame>>>>;

#[derive(Default)]
pub struct Hub {
    subscribers: Arc<Mutex<Subscribers>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, workspace: &WorkspaceId, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .lock()
            .unwrap()
            .entry(workspace.clone())
            .or_default()
            .insert(id, tx);
        Subscription {
            rx,
            workspace: workspace.clone(),
            id,
            subscribers: Arc::downgrade(&self.subscribers),
        }
    }

    pub fn subscriber_count(&self, workspace: &WorkspaceId) -> usize {
        self.subscribers
            .lock()
            .unwrap()
            .get(workspace)
            .map_or(0, |subs| subs.values().filter(|tx| !tx.is_closed()).count())
    }

    /// Senders held for `workspace`, closed or not: what the hub keeps in memory for it.
    pub fn held_senders(&self, workspace: &WorkspaceId) -> usize {
        self.subscribers
            .lock()
            .unwrap()
            .get(workspace)
            .map_or(0, HashMap::len)
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
        subs.retain(|_, tx| tx.try_send(frame.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribed_subscription_leaves_nothing_in_the_hub() {
        let hub = Hub::new();
        let ws: WorkspaceId = "w".parse().unwrap();
        let kept = hub.subscribe(&ws, 4);
        for _ in 0..30_000 {
            drop(hub.subscribe(&ws, 4));
        }
        assert_eq!(hub.held_senders(&ws), 1);
        drop(kept);
        assert_eq!(hub.held_senders(&ws), 0);
        assert!(hub.subscribers.lock().unwrap().is_empty());
    }

    #[test]
    fn a_subscription_outliving_its_hub_drops_quietly() {
        let hub = Hub::new();
        let sub = hub.subscribe(&"w".parse().unwrap(), 4);
        drop(hub);
        drop(sub);
    }
}
