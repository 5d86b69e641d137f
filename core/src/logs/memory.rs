//! In-memory log store.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{LogError, LogQuery, LogSink};
use crate::ids::{AgentId, RunId};
use crate::log::LogEntry;

#[derive(Default)]
pub struct MemoryLogs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Entries per run in seq order.
    runs: HashMap<RunId, Vec<LogEntry>>,
    /// Each agent's runs in the order their first line arrived.
    agent_runs: HashMap<AgentId, Vec<RunId>>,
}

impl MemoryLogs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes the entries of `runs` (runs the retention sweep deleted).
    pub fn forget(&self, runs: &[RunId]) {
        if runs.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap();
        let gone: std::collections::HashSet<&RunId> = runs.iter().collect();
        for run in runs {
            inner.runs.remove(run);
        }
        for ids in inner.agent_runs.values_mut() {
            ids.retain(|id| !gone.contains(id));
        }
        inner.agent_runs.retain(|_, ids| !ids.is_empty());
        inner.runs.shrink_to_fit();
    }
}

#[async_trait]
impl LogSink for MemoryLogs {
    async fn append(&self, entries: &[LogEntry]) -> Result<(), LogError> {
        let mut inner = self.inner.lock().unwrap();
        for entry in entries {
            if !inner.runs.contains_key(&entry.run_id) {
                inner
                    .agent_runs
                    .entry(entry.agent_id.clone())
                    .or_default()
                    .push(entry.run_id.clone());
            }
            let run = inner.runs.entry(entry.run_id.clone()).or_default();
            if run.last().is_none_or(|last| last.seq < entry.seq) {
                run.push(entry.clone());
            }
        }
        Ok(())
    }

    async fn query(&self, q: &LogQuery) -> Result<Vec<LogEntry>, LogError> {
        let inner = self.inner.lock().unwrap();
        let after = q.after.unwrap_or(0);
        let from_run = |run: &RunId| {
            inner
                .runs
                .get(run)
                .filter(|entries| entries.first().is_some_and(|e| e.agent_id == q.agent))
                .map(|entries| {
                    let start = entries.partition_point(|e| e.seq <= after);
                    &entries[start..]
                })
                .unwrap_or_default()
        };
        let entries: Vec<LogEntry> = match &q.run {
            Some(run) => from_run(run).iter().take(q.limit).cloned().collect(),
            None => inner
                .agent_runs
                .get(&q.agent)
                .into_iter()
                .flatten()
                .flat_map(|run| from_run(run).iter())
                .take(q.limit)
                .cloned()
                .collect(),
        };
        Ok(entries)
    }
}
