//! [`Retention`] for the in-memory store and log store, which are two objects: the runs go
//! first, then the log entries and the callbacks of exactly those runs.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Retention, RetentionPolicy, Swept, cutoff};
use crate::callbacks::MemoryOutbox;
use crate::logs::MemoryLogs;
use crate::store::{MemoryStore, StoreError};

pub struct MemoryRetention {
    store: Arc<MemoryStore>,
    logs: Arc<MemoryLogs>,
    outbox: Arc<MemoryOutbox>,
}

impl MemoryRetention {
    pub fn new(store: Arc<MemoryStore>, logs: Arc<MemoryLogs>, outbox: Arc<MemoryOutbox>) -> Self {
        Self {
            store,
            logs,
            outbox,
        }
    }
}

#[async_trait]
impl Retention for MemoryRetention {
    async fn sweep(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<Swept, StoreError> {
        let deleted = self
            .store
            .purge_finished(cutoff(policy, now), policy.max_runs_per_agent);
        self.logs.forget(&deleted);
        self.outbox.forget(&deleted);
        let reservations = self.store.purge_reservations(now);
        Ok(Swept {
            runs: deleted.len() as u64,
            reservations,
        })
    }
}
