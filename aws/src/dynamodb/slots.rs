//! Each agent's count of RUNNING runs, one item in the runs table (`id` = `slots#<agent id>`,
//! `running` N), so that a claim can hold to the agent's `max_concurrent_runs` across every
//! executor: the claim increments it, conditional on it being under the cap, in the same
//! transaction as the run's QUEUED → RUNNING write, and the run's write out of RUNNING
//! decrements it. Only runs claimed this way (`slot = true` on the run) give one back. The
//! item carries none of the indexes' attributes, so no listing or sweep ever sees it.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use crewship_core::ids::AgentId;
use crewship_core::store::StoreError;

use super::{n, s};
use crate::boxed;

fn update(table: &str, agent: &AgentId) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key("id", s(format!("slots#{agent}")))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":zero", n(0))
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
            .expression_attribute_values(":cap", n(cap)),
    )
}

/// One RUNNING run fewer. Unconditional: a run's end is never held up by its agent's count.
pub fn release(table: &str, agent: &AgentId) -> Result<TransactWriteItem, StoreError> {
    item(
        update(table, agent).update_expression("SET running = if_not_exists(running, :one) - :one"),
    )
}
