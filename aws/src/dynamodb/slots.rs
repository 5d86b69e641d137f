//! Each agent's count of RUNNING runs, one item in the runs table (`id` = `slots#<agent id>`,
//! `running` N), so that a claim can hold to the agent's `max_concurrent_runs` across every
//! executor: the claim increments it, conditional on it being under the cap, in the same
//! transaction as the run's QUEUED → RUNNING write, and the run's write out of RUNNING
//! decrements it. Only runs claimed this way (`slot = true` on the run) give one back. The
//! item carries none of the indexes' attributes, so no listing or sweep ever sees it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use crewship_core::ids::AgentId;
use crewship_core::store::StoreError;

use super::{get_n, n, s};
use crate::boxed;

fn key(agent: &AgentId) -> aws_sdk_dynamodb::types::AttributeValue {
    s(format!("slots#{agent}"))
}

/// The agent's RUNNING runs as counted, read consistently (0 before its first claim).
pub async fn running(client: &Client, table: &str, agent: &AgentId) -> Result<u64, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("id", key(agent))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::Unavailable(boxed(e)))?;
    Ok(out
        .item
        .and_then(|item| get_n::<i64>(&item, "running").ok())
        .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

fn update(table: &str, agent: &AgentId) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key("id", key(agent))
        .expression_attribute_values(":one", n(1))
}

fn item(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> Result<TransactWriteItem, StoreError> {
    let update = update
        .build()
        .map_err(|e| StoreError::Unavailable(boxed(e)))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// One more RUNNING run, if fewer than `cap` are.
pub fn take(table: &str, agent: &AgentId, cap: u32) -> Result<TransactWriteItem, StoreError> {
    item(
        update(table, agent)
            .update_expression("SET running = if_not_exists(running, :zero) + :one")
            .condition_expression("attribute_not_exists(running) OR running < :cap")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":cap", n(cap)),
    )
}

/// One RUNNING run fewer. Unconditional: a run's end is never held up by its agent's count.
pub fn release(table: &str, agent: &AgentId) -> Result<TransactWriteItem, StoreError> {
    item(
        update(table, agent).update_expression("SET running = if_not_exists(running, :one) - :one"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DynamoDB refuses an expression attribute value that no expression uses (moto does not).
    fn every_value_is_used(item: &TransactWriteItem) {
        let update = item.update().expect("an update");
        let expressions = format!(
            "{} {}",
            update.update_expression(),
            update.condition_expression().unwrap_or_default()
        );
        for name in update
            .expression_attribute_values()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            assert!(
                expressions.contains(name.as_str()),
                "{name} unused in {expressions}"
            );
        }
    }

    #[test]
    fn takes_and_releases_use_every_value_they_carry() {
        let agent: AgentId = "agent-a".parse().unwrap();
        every_value_is_used(&take("runs", &agent, 2).unwrap());
        every_value_is_used(&release("runs", &agent).unwrap());
    }
}
