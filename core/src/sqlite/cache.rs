//! What the store keeps in memory beside the file, because the trigger path asks for it on
//! every webhook: the agents (opened once, not decrypted per request) and the runs per agent
//! and status (the queued cap; a COUNT over a growing backlog made the trigger path quadratic).
//! Both are loaded at open and changed only on the writer thread, in the order of the writes,
//! so they never disagree with the file: this process owns it (the lock file).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use rusqlite::Connection;

use super::SqliteError;
use crate::agent::Agent;
use crate::ids::AgentId;
use crate::run::RunStatus;
use crate::seal::Sealing;

#[derive(Default)]
pub(super) struct Cache {
    pub(super) agents: RwLock<BTreeMap<AgentId, Agent>>,
    counts: Mutex<HashMap<(AgentId, RunStatus), u64>>,
}

impl Cache {
    /// Everything from the file, after the start-up recovery.
    pub(super) fn load(conn: &Connection, sealing: &Sealing) -> Result<Self, SqliteError> {
        let mut counts = HashMap::new();
        let mut stmt =
            conn.prepare("SELECT agent_id, status, COUNT(*) FROM runs GROUP BY agent_id, status")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u64>(2)?,
            ))
        })?;
        for row in rows {
            let (agent, status, n) = row?;
            let (Ok(agent), Some(status)) = (agent.parse(), RunStatus::parse(&status)) else {
                continue;
            };
            counts.insert((agent, status), n);
        }
        let agents = super::agents::load_all(conn, sealing)?;
        Ok(Self {
            agents: RwLock::new(agents),
            counts: Mutex::new(counts),
        })
    }

    pub(super) fn count(&self, agent: &AgentId, status: RunStatus) -> u64 {
        let counts = self.counts.lock().unwrap();
        counts.get(&(agent.clone(), status)).copied().unwrap_or(0)
    }

    pub(super) fn counted(&self, agent: &AgentId, status: RunStatus, by: i64) {
        let mut counts = self.counts.lock().unwrap();
        let n = counts.entry((agent.clone(), status)).or_default();
        *n = n.saturating_add_signed(by);
    }
}
