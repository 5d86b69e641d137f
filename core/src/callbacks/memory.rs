//! [`CallbackOutbox`] in memory: gone with the process, like every memory port.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{CallbackOutbox, OutboxEntry, OutboxError};
use crate::ids::{CallbackId, RunId};

#[derive(Default)]
pub struct MemoryOutbox {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<CallbackId, OutboxEntry>,
    by_run: HashMap<RunId, CallbackId>,
}

impl MemoryOutbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes the callbacks of runs that retention deleted.
    pub fn forget(&self, runs: &[RunId]) {
        let mut inner = self.inner.lock().unwrap();
        for run in runs {
            if let Some(id) = inner.by_run.remove(run) {
                inner.entries.remove(&id);
            }
        }
    }
}

fn due(entry: &OutboxEntry, now: OffsetDateTime) -> bool {
    !entry.is_finished() && entry.next_attempt_at.is_some_and(|at| at <= now)
}

#[async_trait]
impl CallbackOutbox for MemoryOutbox {
    async fn enqueue(&self, entry: &OutboxEntry) -> Result<bool, OutboxError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.by_run.contains_key(&entry.run_id) {
            return Ok(false);
        }
        inner.by_run.insert(entry.run_id.clone(), entry.id.clone());
        inner.entries.insert(entry.id.clone(), entry.clone());
        Ok(true)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let mut inner = self.inner.lock().unwrap();
        let mut due: Vec<&mut OutboxEntry> =
            inner.entries.values_mut().filter(|e| due(e, now)).collect();
        due.sort_by_key(|e| e.next_attempt_at);
        Ok(due
            .into_iter()
            .take(limit)
            .map(|e| {
                e.next_attempt_at = Some(until);
                e.clone()
            })
            .collect())
    }

    async fn claim(
        &self,
        id: &CallbackId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        let mut inner = self.inner.lock().unwrap();
        Ok(inner.entries.get_mut(id).filter(|e| due(e, now)).map(|e| {
            e.next_attempt_at = Some(until);
            e.clone()
        }))
    }

    async fn record(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        let mut inner = self.inner.lock().unwrap();
        let stored = inner
            .entries
            .get_mut(&entry.id)
            .ok_or_else(|| OutboxError::NotFound(entry.id.clone()))?;
        if stored.is_finished() || stored.attempts.len() + 1 != entry.attempts.len() {
            return Err(OutboxError::Conflict(entry.id.clone()));
        }
        *stored = entry.clone();
        Ok(())
    }

    async fn get(&self, id: &CallbackId) -> Result<Option<OutboxEntry>, OutboxError> {
        Ok(self.inner.lock().unwrap().entries.get(id).cloned())
    }

    async fn of_run(&self, run: &RunId) -> Result<Vec<OutboxEntry>, OutboxError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .by_run
            .get(run)
            .and_then(|id| inner.entries.get(id))
            .cloned()
            .into_iter()
            .collect())
    }
}
