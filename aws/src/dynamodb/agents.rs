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
use sha2::{Digest, Sha256};

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

/// What a conditional write expects to find.
enum Condition {
    Absent,
    /// The stored record's digest. Sealed records carry a random nonce, so the sealed bytes
    /// cannot be compared; the digest of the plaintext record can.
    Digest(String),
}

fn serialise(agent: &Agent) -> Result<Vec<u8>, RegistryError> {
    serde_json::to_vec(agent).map_err(unavailable)
}

/// SHA-256 of the record, for compare-and-swap. The record holds 256-bit random secrets, so
/// its digest reveals nothing that could be searched for.
fn digest(json: &[u8]) -> String {
    hex::encode(Sha256::digest(json))
}

impl DynamoRegistry {
    /// Writes the agent, conditionally when `condition` is given. `Ok(false)`: the condition
    /// did not hold and nothing was written.
    async fn write(
        &self,
        agent: Agent,
        condition: Option<Condition>,
    ) -> Result<bool, RegistryError> {
        let json = serialise(&agent)?;
        let digest = digest(&json);
        let record = match self.sealing.seal(&json, agent.id.as_str().as_bytes()) {
            Some(sealed) => ("sealed", AttributeValue::B(Blob::new(sealed))),
            None => (
                "doc",
                s(String::from_utf8(json).expect("serde_json writes UTF-8")),
            ),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("agent_id", s(agent.id.as_str()))
            .item("workspace_id", s(agent.workspace_id.as_str()))
            .item("crew_id", s(agent.crew_id.as_str()))
            .item("digest", s(digest))
            .item(record.0, record.1);
        request = match condition {
            None => request,
            Some(Condition::Absent) => {
                request.condition_expression("attribute_not_exists(agent_id)")
            }
            Some(Condition::Digest(expected)) => request
                .condition_expression("digest = :expected")
                .expression_attribute_values(":expected", s(expected)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

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
        self.write(agent, None).await.map(|_| ())
    }

    #[tracing::instrument(skip_all, fields(agent_id = %new.id))]
    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError> {
        let condition = match expected {
            None => Condition::Absent,
            Some(agent) => Condition::Digest(digest(&serialise(agent)?)),
        };
        self.write(new, Some(condition)).await
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
