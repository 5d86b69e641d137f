//! The agent registry (the "orchestrator"): agents, their configuration and secrets.

mod memory;

use async_trait::async_trait;

pub use memory::MemoryRegistry;

use crate::agent::Agent;
use crate::ids::{AgentId, CrewId, WorkspaceId};
use crate::store::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("agent registry unavailable")]
    Unavailable(#[source] BoxError),
}

/// Which agents a listing returns.
#[derive(Debug, Clone)]
pub enum AgentScope {
    Workspace(WorkspaceId),
    Crew(CrewId),
}

impl AgentScope {
    /// Whether `agent` is in the scope (for adapters that filter in memory).
    pub fn contains(&self, agent: &Agent) -> bool {
        match self {
            Self::Workspace(w) => &agent.workspace_id == w,
            Self::Crew(c) => &agent.crew_id == c,
        }
    }
}

#[async_trait]
pub trait AgentRegistry: Send + Sync {
    /// `None` when the agent does not exist (or was deleted).
    async fn get(&self, id: &AgentId) -> Result<Option<Agent>, RegistryError>;

    /// Creates or replaces the agent.
    async fn put(&self, agent: Agent) -> Result<(), RegistryError>;

    /// Compare-and-swap: writes `new` only if the stored agent with `new.id` still equals
    /// `expected` (`None`: only if there is none), atomically. Returns whether it wrote.
    /// Read-modify-write callers (secret rotation, replace-but-keep-the-secret) loop on `false`,
    /// so that two concurrent rotations never both succeed on the same old secret. Adapters
    /// without whole-record comparison may compare a version attribute they maintain.
    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError>;

    /// Returns whether it existed.
    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError>;

    /// Agents in the scope, ordered by id.
    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError>;
}
