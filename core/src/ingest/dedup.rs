//! Deduplication (`docs/webhooks.md`, Deduplication): the keys of a delivery, and the reservation
//! that holds them for the run about to be created until that run is safely queued.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::auth::Verified;
use crate::ids::{AgentId, RunId};
use crate::store::DedupStore;

/// The delivery id, and the verified MAC with its timestamp, each scoped to the agent by the
/// store. Keys are digests, so their size does not depend on what the sender sent.
pub fn keys(delivery_id: Option<&str>, verified: &Verified) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if let Some(id) = delivery_id {
        keys.push(format!("d:{}", hex::encode(Sha256::digest(id))));
    }
    if let Some(tag) = verified.tag() {
        let ts = verified.timestamp().unwrap_or("");
        keys.push(format!("s:{}:{ts}", hex::encode(tag)));
    }
    keys
}

/// Delivery keys reserved for a run that does not exist yet. Unless committed, the keys are
/// released, so that the sender's retry creates a fresh run: by [`release`](Self::release),
/// which the use case awaits before it answers, or, when the request is abandoned midway (the
/// client went away and the future was dropped), by a task spawned from `Drop`.
#[must_use = "dropping the reservation releases its keys"]
pub struct ReservationGuard {
    held: Option<Held>,
}

struct Held {
    store: Arc<dyn DedupStore>,
    agent: AgentId,
    keys: Vec<String>,
    run: RunId,
}

impl Held {
    async fn release(self) {
        if let Err(e) = self.store.release(&self.agent, &self.keys, &self.run).await {
            tracing::error!(error = %e, run_id = %self.run, "releasing delivery keys failed");
        }
    }
}

impl ReservationGuard {
    /// Takes charge of keys that `store.reserve` just reserved for `run`.
    pub fn new(store: Arc<dyn DedupStore>, agent: AgentId, keys: Vec<String>, run: RunId) -> Self {
        Self {
            held: Some(Held {
                store,
                agent,
                keys,
                run,
            }),
        }
    }

    /// The run was queued: the keys now stand for it until they expire.
    pub fn commit(mut self) {
        self.held = None;
    }

    /// Releases the keys now, and waits for it.
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }
}

impl Drop for ReservationGuard {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(held.release());
            }
            // No runtime to release on: the keys expire with the dedup window instead.
            Err(_) => tracing::warn!(run_id = %held.run, "delivery keys left to expire"),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::store::{MemoryStore, Reservation};

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    async fn reserved(store: &Arc<MemoryStore>, run: &str) -> (ReservationGuard, Reservation) {
        let agent: AgentId = "a".parse().unwrap();
        let run: RunId = run.parse().unwrap();
        let keys = vec!["d:1".to_owned()];
        let end = NOW + time::Duration::hours(1);
        let outcome = store.reserve(&agent, &keys, &run, NOW, end).await.unwrap();
        let dedup: Arc<dyn DedupStore> = store.clone();
        (ReservationGuard::new(dedup, agent, keys, run), outcome)
    }

    /// Whether the key is still held, by trying to reserve it for another run.
    async fn still_held(store: &Arc<MemoryStore>) -> bool {
        let (guard, outcome) = reserved(store, "run_probe").await;
        guard.commit();
        matches!(outcome, Reservation::Duplicate(_))
    }

    #[tokio::test]
    async fn a_dropped_reservation_is_released() {
        let store = Arc::new(MemoryStore::default());
        let (guard, outcome) = reserved(&store, "run_1").await;
        assert!(matches!(outcome, Reservation::Reserved));
        drop(guard);
        // The release runs on a spawned task: let it.
        tokio::task::yield_now().await;
        assert!(!still_held(&store).await);
    }

    #[tokio::test]
    async fn a_released_reservation_is_free_once_release_returns() {
        let store = Arc::new(MemoryStore::default());
        let (guard, _) = reserved(&store, "run_1").await;
        guard.release().await;
        assert!(!still_held(&store).await);
    }

    #[tokio::test]
    async fn a_committed_reservation_is_kept() {
        let store = Arc::new(MemoryStore::default());
        let (guard, _) = reserved(&store, "run_1").await;
        guard.commit();
        tokio::task::yield_now().await;
        assert!(still_held(&store).await);
    }
}
