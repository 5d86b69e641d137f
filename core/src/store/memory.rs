//! In-memory store for the local runner and tests. Two mutexes, runs and delivery keys, each
//! never held across an await.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::deliveries::Deliveries;
use super::{
    ChatStore, DedupStore, LeaseRenewal, Page, Reservation, RunFilter, RunStore, StoreError,
};
use super::{FastMap, FastSet};
use crate::ids::{AgentId, RunId};
use crate::run::{Lease, Run, RunStatus};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Apart from the runs: the trigger path reserves keys before it creates the run, and
    /// neither needs to wait for the other.
    deliveries: Mutex<Deliveries>,
}

#[derive(Default)]
struct Inner {
    /// Boxed: growing the map then moves pointers, not whole runs (a rehash of a large map of
    /// inline runs showed up as page faults and `memmove` under the lock).
    runs: FastMap<RunId, Box<Run>>,
    /// Run ids per agent; ids sort by creation time.
    by_agent: FastMap<AgentId, BTreeSet<RunId>>,
    /// Runs per agent and status, kept in step with `runs`: the trigger path (queued cap) and the
    /// executor (concurrency cap) ask for these on every run, and a scan of every run the agent
    /// ever had made both linear in history (quadratic over a burst; see docs/performance.md).
    counts: FastMap<(AgentId, RunStatus), u64>,
    /// The RUNNING runs, for the lease sweep: a scan of every run held the lock for as long as
    /// the history was big.
    running: FastSet<RunId>,
    /// The QUEUED runs, for the sweep's repair of runs without a queue message; ordered, as
    /// run ids sort by creation time.
    queued: BTreeSet<RunId>,
    /// Chat ids can come from payloads: SipHash here.
    chats: HashMap<String, String>,
}

impl Inner {
    /// `RunStore::update` under the lock.
    fn update(&mut self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        let stored = self
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
        let (agent, old) = (stored.agent_id.clone(), stored.status);
        (**stored).clone_from(run);
        if old != run.status {
            if let Some(n) = self.counts.get_mut(&(agent.clone(), old)) {
                *n = n.saturating_sub(1);
            }
            *self.counts.entry((agent, run.status)).or_default() += 1;
            self.index_status(&run.id, run.status);
        }
        Ok(())
    }

    fn index_status(&mut self, run: &RunId, status: RunStatus) {
        if status == RunStatus::Running {
            self.running.insert(run.clone());
        } else {
            self.running.remove(run);
        }
        if status == RunStatus::Queued {
            self.queued.insert(run.clone());
        } else {
            self.queued.remove(run);
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes finished runs that finished before `cutoff`, and each agent's finished runs
    /// beyond its newest `keep`; returns their ids (for their logs). QUEUED and RUNNING runs
    /// stay. One pass over the runs held, which retention keeps to `keep` finished per agent.
    pub fn purge_finished(&self, cutoff: OffsetDateTime, keep: u64) -> Vec<RunId> {
        let mut inner = self.inner.lock().unwrap();
        let inner = &mut *inner;
        let mut deleted = Vec::new();
        for (agent, ids) in &mut inner.by_agent {
            let mut kept = 0u64;
            let mut gone = Vec::new();
            for id in ids.iter().rev() {
                let Some(run) = inner.runs.get(id) else {
                    continue;
                };
                if !run.status.is_terminal() {
                    continue;
                }
                kept += 1;
                if kept > keep || run.finished_at.is_some_and(|at| at < cutoff) {
                    gone.push(id.clone());
                }
            }
            for id in gone {
                ids.remove(&id);
                if let Some(run) = inner.runs.remove(&id)
                    && let Some(n) = inner.counts.get_mut(&(agent.clone(), run.status))
                {
                    *n = n.saturating_sub(1);
                }
                deleted.push(id);
            }
        }
        inner.by_agent.retain(|_, ids| !ids.is_empty());
        // Shrinking after a burst gives the memory back to the allocator.
        inner.runs.shrink_to_fit();
        deleted
    }

    /// Forgets every dedup reservation expired by `now`; returns how many.
    pub fn purge_reservations(&self, now: OffsetDateTime) -> u64 {
        self.deliveries.lock().unwrap().purge_all(now)
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
        *inner
            .counts
            .entry((run.agent_id.clone(), run.status))
            .or_default() += 1;
        inner.index_status(&run.id, run.status);
        inner.runs.insert(run.id.clone(), Box::new(run.clone()));
        Ok(())
    }

    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .runs
            .get(id)
            .map(|run| (**run).clone()))
    }

    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        self.inner.lock().unwrap().update(run, prev)
    }

    async fn claim_within(&self, run: &mut Run, cap: u32) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock().unwrap();
        let running = (run.agent_id.clone(), RunStatus::Running);
        if inner.counts.get(&running).copied().unwrap_or(0) >= u64::from(cap) {
            return Ok(false);
        }
        inner.update(run, RunStatus::Queued).map(|()| true)
    }

    async fn renew_lease(&self, id: &RunId, lease: &Lease) -> Result<LeaseRenewal, StoreError> {
        let mut inner = self.inner.lock().unwrap();
        let stored = inner
            .runs
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(id.clone()))?;
        let held = stored.status == RunStatus::Running
            && stored
                .lease
                .as_ref()
                .is_some_and(|l| l.owner == lease.owner);
        if !held {
            return Ok(LeaseRenewal::Lost);
        }
        stored.lease = Some(lease.clone());
        stored.version += 1;
        Ok(LeaseRenewal::Renewed {
            cancel_requested: stored.cancel_requested,
        })
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
            .map(|id| &*inner.runs[id])
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
        Ok(inner
            .counts
            .get(&(agent.clone(), status))
            .copied()
            .unwrap_or(0))
    }

    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .running
            .iter()
            .filter_map(|id| inner.runs.get(id))
            .filter(|r| r.lease.as_ref().is_some_and(|l| l.expires_at < now))
            .map(|r| (**r).clone())
            .collect())
    }

    async fn queued_created_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Run>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .queued
            .iter()
            .filter_map(|id| inner.runs.get(id))
            .filter(|r| r.created_at >= from && r.created_at < to)
            .map(|r| (**r).clone())
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
        let mut deliveries = self.deliveries.lock().unwrap();
        Ok(deliveries.reserve(agent, keys, run, now, expires_at))
    }

    async fn release(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
    ) -> Result<(), StoreError> {
        self.deliveries.lock().unwrap().release(agent, keys, run);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::run::{AuthScheme, NewRun};

    fn agent(id: &str) -> Agent {
        let mut agent = Agent::for_tests("");
        agent.id = id.parse().unwrap();
        agent.name = id.into();
        agent.webhook_secret = None;
        agent
    }

    fn queued(agent: &Agent) -> Run {
        let new = NewRun {
            id: RunId::generate(),
            event: "e".into(),
            source: "s".into(),
            auth_scheme: AuthScheme::Signature,
            delivery_id: None,
            payload: serde_json::value::RawValue::from_string("{}".into())
                .unwrap()
                .into(),
        };
        Run::queued(agent, new, OffsetDateTime::UNIX_EPOCH)
    }

    #[tokio::test]
    async fn status_counts_follow_creates_and_transitions_per_agent() {
        let store = MemoryStore::new();
        let (a, b) = (agent("a"), agent("b"));
        let mut first = queued(&a);
        store.create(&first).await.unwrap();
        store.create(&queued(&a)).await.unwrap();
        store.create(&queued(&b)).await.unwrap();
        let count = |agent: &Agent, status| {
            let (store, id) = (&store, agent.id.clone());
            async move { store.count_by_status(&id, status).await.unwrap() }
        };
        assert_eq!(count(&a, RunStatus::Queued).await, 2);
        assert_eq!(count(&b, RunStatus::Queued).await, 1);

        first.status = RunStatus::Running;
        store.update(&mut first, RunStatus::Queued).await.unwrap();
        assert_eq!(count(&a, RunStatus::Queued).await, 1);
        assert_eq!(count(&a, RunStatus::Running).await, 1);

        // A refused transition changes nothing.
        let mut stale = first.clone();
        stale.version = 0;
        stale.status = RunStatus::Running;
        assert!(store.update(&mut stale, RunStatus::Queued).await.is_err());
        assert_eq!(count(&a, RunStatus::Running).await, 1);

        first.finish(
            RunStatus::Completed,
            Some(0),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        store.update(&mut first, RunStatus::Running).await.unwrap();
        assert_eq!(count(&a, RunStatus::Running).await, 0);
        assert_eq!(count(&a, RunStatus::Completed).await, 1);
        assert_eq!(count(&b, RunStatus::Completed).await, 0);
    }
}
