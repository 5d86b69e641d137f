//! In-memory store for the local runner and tests. One mutex, never held across an await.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ChatStore, DedupStore, Page, Reservation, RunFilter, RunStore, StoreError};
use crate::ids::{AgentId, RunId};
use crate::run::{Run, RunStatus};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<RunId, Run>,
    /// Run ids per agent; ids sort by creation time.
    by_agent: HashMap<AgentId, BTreeSet<RunId>>,
    dedup: HashMap<(AgentId, String), (RunId, OffsetDateTime)>,
    reservations_since_purge: usize,
    chats: HashMap<String, String>,
}

const PURGE_EVERY: usize = 10_000;

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn create(&self, run: &Run) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.runs.contains_key(&run.id) {
            return Err(StoreError::AlreadyExists(run.id.clone()));
        }
        inner
            .by_agent
            .entry(run.agent_id.clone())
            .or_default()
            .insert(run.id.clone());
        inner.runs.insert(run.id.clone(), run.clone());
        Ok(())
    }

    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(self.inner.lock().unwrap().runs.get(id).cloned())
    }

    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        let stored = inner
            .runs
            .get_mut(&run.id)
            .ok_or_else(|| StoreError::NotFound(run.id.clone()))?;
        if prev.is_terminal() || stored.status != prev || stored.version != run.version {
            return Err(StoreError::Conflict {
                id: run.id.clone(),
                current: stored.status,
            });
        }
        run.version += 1;
        *stored = run.clone();
        Ok(())
    }

    async fn list_by_agent(
        &self,
        agent: &AgentId,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        let after: Option<RunId> = cursor
            .map(|c| c.parse().map_err(|_| StoreError::BadCursor))
            .transpose()?;
        let inner = self.inner.lock().unwrap();
        let Some(ids) = inner.by_agent.get(agent) else {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        };
        let older = match &after {
            Some(after) => ids.range(..after.clone()),
            None => ids.range(..),
        };
        let mut matching = older
            .rev()
            .map(|id| &inner.runs[id])
            .filter(|r| filter.trigger.is_none_or(|t| r.trigger_type == t))
            .filter(|r| filter.status.is_none_or(|s| r.status == s));
        let items: Vec<Run> = matching.by_ref().take(limit).cloned().collect();
        let next = if items.len() == limit && matching.next().is_some() {
            items.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn count_by_status(&self, agent: &AgentId, status: RunStatus) -> Result<u64, StoreError> {
        let inner = self.inner.lock().unwrap();
        let count = inner.by_agent.get(agent).map_or(0, |ids| {
            ids.iter()
                .filter(|id| inner.runs[*id].status == status)
                .count()
        });
        Ok(count as u64)
    }

    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .runs
            .values()
            .filter(|r| r.status == RunStatus::Running)
            .filter(|r| r.lease.as_ref().is_some_and(|l| l.expires_at < now))
            .cloned()
            .collect())
    }
}

#[async_trait]
impl DedupStore for MemoryStore {
    async fn reserve(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Reservation, StoreError> {
        let mut inner = self.inner.lock().unwrap();
        for key in keys {
            let held = inner.dedup.get(&(agent.clone(), key.clone()));
            if let Some((holder, _)) = held.filter(|(_, until)| *until > now) {
                return Ok(Reservation::Duplicate(holder.clone()));
            }
        }
        // Expired reservations are dropped in bulk now and then, so the map stays bounded by
        // the deliveries of one window.
        inner.reservations_since_purge += 1;
        if inner.reservations_since_purge >= PURGE_EVERY {
            inner.reservations_since_purge = 0;
            inner.dedup.retain(|_, (_, until)| *until > now);
        }
        for key in keys {
            inner
                .dedup
                .insert((agent.clone(), key.clone()), (run.clone(), expires_at));
        }
        Ok(Reservation::Reserved)
    }

    async fn release(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        for key in keys {
            let k = (agent.clone(), key.clone());
            if inner.dedup.get(&k).is_some_and(|(holder, _)| holder == run) {
                inner.dedup.remove(&k);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ChatStore for MemoryStore {
    async fn ensure(&self, chat_id: &str, title: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.chats.contains_key(chat_id) {
            return Ok(false);
        }
        inner.chats.insert(chat_id.to_owned(), title.to_owned());
        Ok(true)
    }

    async fn title(&self, chat_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.inner.lock().unwrap().chats.get(chat_id).cloned())
    }
}
