//! In-memory agent registry.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{AgentRegistry, AgentScope, RegistryError};
use crate::agent::Agent;
use crate::ids::AgentId;

#[derive(Default)]
pub struct MemoryRegistry {
    agents: RwLock<BTreeMap<AgentId, Agent>>,
}

impl MemoryRegistry {
    pub fn new(agents: impl IntoIterator<Item = Agent>) -> Self {
        Self {
            agents: RwLock::new(agents.into_iter().map(|a| (a.id.clone(), a)).collect()),
        }
    }
}

#[async_trait]
impl AgentRegistry for MemoryRegistry {
    async fn get(&self, id: &AgentId) -> Result<Option<Agent>, RegistryError> {
        Ok(self.agents.read().unwrap().get(id).cloned())
    }

    async fn put(&self, agent: Agent) -> Result<(), RegistryError> {
        self.agents.write().unwrap().insert(agent.id.clone(), agent);
        Ok(())
    }

    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError> {
        Ok(self.agents.write().unwrap().remove(id).is_some())
    }

    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError> {
        Ok(self
            .agents
            .read()
            .unwrap()
            .values()
            .filter(|a| match scope {
                AgentScope::Workspace(w) => &a.workspace_id == w,
                AgentScope::Crew(c) => &a.crew_id == c,
            })
            .cloned()
            .collect())
    }
}
