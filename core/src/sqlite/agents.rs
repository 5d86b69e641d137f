//! [`AgentRegistry`] on the `agents` table. The whole record (webhook secrets, credentials) is
//! sealed with AES-256-GCM ([`crate::seal`]) under the agent id; only the ids the listings
//! select on stay readable. Compare-and-swap opens the stored record on the writer thread and
//! compares it whole, so of two writers that read the same record only one wins.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

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

fn stored(conn: &Connection, sealing: &Sealing, id: &str) -> Result<Option<Agent>, SqliteError> {
    let sealed: Option<Vec<u8>> = conn
        .query_row("SELECT sealed FROM agents WHERE agent_id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    sealed.map(|s| open(sealing, id, &s)).transpose()
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
        let (id, sealing) = (id.clone(), self.sealing.clone());
        self.db
            .read(move |conn| stored(conn, &sealing, id.as_str()))
            .await
            .map_err(unavailable)
    }

    async fn put(&self, agent: Agent) -> Result<(), RegistryError> {
        let sealing = self.sealing.clone();
        self.db
            .write(move |conn| write(conn, &sealing, &agent))
            .await
            .map_err(unavailable)
    }

    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError> {
        let (expected, sealing) = (expected.cloned(), self.sealing.clone());
        self.db
            .write(move |conn| {
                if stored(conn, &sealing, new.id.as_str())? != expected {
                    return Ok(false);
                }
                write(conn, &sealing, &new)?;
                Ok(true)
            })
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError> {
        let id = id.clone();
        self.db
            .write(move |conn| {
                Ok(conn.execute("DELETE FROM agents WHERE agent_id = ?1", [id.as_str()])? == 1)
            })
            .await
            .map_err(unavailable)
    }

    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError> {
        let (scope, sealing) = (scope.clone(), self.sealing.clone());
        self.db
            .read(move |conn| {
                let (sql, value) = match &scope {
                    AgentScope::Workspace(w) => (
                        "SELECT agent_id, sealed FROM agents WHERE workspace_id = ?1 ORDER BY agent_id",
                        w.as_str(),
                    ),
                    AgentScope::Crew(c) => (
                        "SELECT agent_id, sealed FROM agents WHERE crew_id = ?1 ORDER BY agent_id",
                        c.as_str(),
                    ),
                };
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map([value], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?;
                rows.map(|row| {
                    let (id, sealed) = row?;
                    open(&sealing, &id, &sealed)
                })
                .collect()
            })
            .await
            .map_err(unavailable)
    }
}
