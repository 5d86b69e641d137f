//! [`AgentRegistry`] on the `agents` table. The whole record (webhook secrets, credentials) is
//! sealed with AES-256-GCM ([`crate::seal`]) under the agent id; only the ids the listings
//! select on stay readable. Reads are served from the store's cache (`cache`), opened once at
//! start; writes go to the file and then the cache on the writer thread, so compare-and-swap
//! compares against the record as stored, and of two writers that read it only one wins.

use async_trait::async_trait;
use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::{SqliteError, SqliteStore};
use crate::agent::Agent;
use crate::ids::AgentId;
use crate::registry::{AgentRegistry, AgentScope, RegistryError};
use crate::seal::{SealError, Sealing};

fn unavailable(e: SqliteError) -> RegistryError {
    RegistryError::Unavailable(Box::new(e))
}

fn open(sealing: &Sealing, id: &str, sealed: &[u8]) -> Result<Agent, SqliteError> {
    let json = sealing
        .open(sealed, id.as_bytes())
        .map_err(SqliteError::Seal)?;
    let agent: Agent = serde_json::from_slice(&json).map_err(SqliteError::corrupt)?;
    if agent.id.as_str() != id {
        return Err(SqliteError::Seal(SealError::Open));
    }
    Ok(agent)
}

/// Every stored agent, opened (at start: a record that does not open stops the start).
pub(super) fn load_all(
    conn: &Connection,
    sealing: &Sealing,
) -> Result<BTreeMap<AgentId, Agent>, SqliteError> {
    let mut stmt = conn.prepare("SELECT agent_id, sealed FROM agents")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut agents = BTreeMap::new();
    for row in rows {
        let (id, sealed) = row?;
        let agent = open(sealing, &id, &sealed)?;
        agents.insert(agent.id.clone(), agent);
    }
    Ok(agents)
}

fn write(conn: &Connection, sealing: &Sealing, agent: &Agent) -> Result<(), SqliteError> {
    let json = serde_json::to_vec(agent).map_err(SqliteError::corrupt)?;
    let sealed = sealing
        .seal(&json, agent.id.as_str().as_bytes())
        .ok_or(SqliteError::Seal(SealError::NoKey))?;
    conn.execute(
        "INSERT INTO agents (agent_id, workspace_id, crew_id, sealed) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (agent_id) DO UPDATE SET workspace_id = excluded.workspace_id,
             crew_id = excluded.crew_id, sealed = excluded.sealed",
        params![
            agent.id.as_str(),
            agent.workspace_id.as_str(),
            agent.crew_id.as_str(),
            sealed
        ],
    )?;
    Ok(())
}

#[async_trait]
impl AgentRegistry for SqliteStore {
    async fn get(&self, id: &AgentId) -> Result<Option<Agent>, RegistryError> {
        Ok(self.cache.agents.read().unwrap().get(id).cloned())
    }

    async fn put(&self, agent: Agent) -> Result<(), RegistryError> {
        let (sealing, cache) = (self.sealing.clone(), self.cache.clone());
        self.db
            .write(move |conn| {
                write(conn, &sealing, &agent)?;
                cache
                    .agents
                    .write()
                    .unwrap()
                    .insert(agent.id.clone(), agent);
                Ok(())
            })
            .await
            .map_err(unavailable)
    }

    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError> {
        let (expected, sealing, cache) =
            (expected.cloned(), self.sealing.clone(), self.cache.clone());
        self.db
            .write(move |conn| {
                if cache.agents.read().unwrap().get(&new.id) != expected.as_ref() {
                    return Ok(false);
                }
                write(conn, &sealing, &new)?;
                cache.agents.write().unwrap().insert(new.id.clone(), new);
                Ok(true)
            })
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError> {
        let (id, cache) = (id.clone(), self.cache.clone());
        self.db
            .write(move |conn| {
                let deleted =
                    conn.execute("DELETE FROM agents WHERE agent_id = ?1", [id.as_str()])? == 1;
                cache.agents.write().unwrap().remove(&id);
                Ok(deleted)
            })
            .await
            .map_err(unavailable)
    }

    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError> {
        let agents = self.cache.agents.read().unwrap();
        Ok(agents
            .values()
            .filter(|a| scope.contains(a))
            .cloned()
            .collect())
    }
}
