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

    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError> {
        let mut agents = self.agents.write().unwrap();
        if agents.get(&new.id) != expected {
            return Ok(false);
        }
        agents.insert(new.id.clone(), new);
        Ok(true)
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
            .filter(|a| scope.contains(a))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(secret: &str) -> Agent {
        Agent::for_tests(secret)
    }

    #[tokio::test]
    async fn compare_and_swap_writes_only_over_the_expected_record() {
        let registry = MemoryRegistry::default();
        assert!(registry.compare_and_swap(None, agent("one")).await.unwrap());
        assert!(!registry.compare_and_swap(None, agent("two")).await.unwrap());
        assert!(
            !registry
                .compare_and_swap(Some(&agent("two")), agent("three"))
                .await
                .unwrap()
        );
        assert!(
            registry
                .compare_and_swap(Some(&agent("one")), agent("three"))
                .await
                .unwrap()
        );
        let id = "a".parse().unwrap();
        assert_eq!(registry.get(&id).await.unwrap(), Some(agent("three")));
        registry.delete(&id).await.unwrap();
        assert!(
            !registry
                .compare_and_swap(Some(&agent("three")), agent("four"))
                .await
                .unwrap()
        );
    }
}
