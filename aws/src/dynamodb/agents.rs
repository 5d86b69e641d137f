//! Agents in DynamoDB. The whole record (webhook secret, previous secret, credentials) is
//! sealed with AES-256-GCM; only the ids the key and indexes need stay readable. Writing in
//! plaintext happens only when configuration explicitly allows it.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use crewship_core::agent::Agent;
use crewship_core::ids::AgentId;
use crewship_core::registry::{AgentRegistry, AgentScope, RegistryError};

use super::{Item, MalformedItem, get_s, s};
use crate::boxed;
use crate::seal::Sealing;

#[derive(Clone, Debug)]
pub struct DynamoRegistry {
    client: Client,
    table: String,
    sealing: Sealing,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> RegistryError {
    RegistryError::Unavailable(boxed(e))
}

impl DynamoRegistry {
    pub fn new(client: Client, table: impl Into<String>, sealing: Sealing) -> Self {
        Self {
            client,
            table: table.into(),
            sealing,
        }
    }

    fn decode(&self, item: &Item) -> Result<Agent, RegistryError> {
        let id = get_s(item, "agent_id").map_err(unavailable)?;
        let json = match item.get("sealed").and_then(|v| v.as_b().ok()) {
            Some(sealed) => self
                .sealing
                .open(sealed.as_ref(), id.as_bytes())
                .map_err(unavailable)?,
            None => get_s(item, "doc").map_err(unavailable)?.as_bytes().to_vec(),
        };
        let agent: Agent = serde_json::from_slice(&json).map_err(unavailable)?;
        if agent.id.as_str() != id {
            return Err(unavailable(MalformedItem("agent id mismatch".into())));
        }
        Ok(agent)
    }
}

#[async_trait]
impl AgentRegistry for DynamoRegistry {
    #[tracing::instrument(skip(self), fields(agent_id = %id))]
    async fn get(&self, id: &AgentId) -> Result<Option<Agent>, RegistryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("agent_id", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(|item| self.decode(&item)).transpose()
    }

    #[tracing::instrument(skip_all, fields(agent_id = %agent.id))]
    async fn put(&self, agent: Agent) -> Result<(), RegistryError> {
        let json = serde_json::to_vec(&agent).map_err(unavailable)?;
        let record = match self.sealing.seal(&json, agent.id.as_str().as_bytes()) {
            Some(sealed) => ("sealed", AttributeValue::B(Blob::new(sealed))),
            None => (
                "doc",
                s(String::from_utf8(json).expect("serde_json writes UTF-8")),
            ),
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .item("agent_id", s(agent.id.as_str()))
            .item("workspace_id", s(agent.workspace_id.as_str()))
            .item("crew_id", s(agent.crew_id.as_str()))
            .item(record.0, record.1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(agent_id = %id))]
    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("agent_id", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    #[tracing::instrument(skip(self))]
    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError> {
        let (index, attr, value) = match scope {
            AgentScope::Workspace(w) => ("by_workspace", "workspace_id", w.as_str()),
            AgentScope::Crew(c) => ("by_crew", "crew_id", c.as_str()),
        };
        let mut agents = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(format!("{attr} = :v"))
                .expression_attribute_values(":v", s(value))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                agents.push(self.decode(&item)?);
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(agents)
    }
}
