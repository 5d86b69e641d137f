//! Delivery reservations: one item per `agent#key`, written for all keys in one transaction,
//! each put conditional on the key being free. A reservation whose expiry passed counts as
//! free even while it still exists (TTL deletes items late, and moto never does).

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use crewship_core::ids::{AgentId, RunId};
use crewship_core::store::{DedupStore, Reservation, StoreError};
use time::OffsetDateTime;

use super::{epoch_ms, get_n, get_s, n, s};
use crate::boxed;

/// A transaction that lost to a concurrent one is retried this often before giving up.
const ATTEMPTS: usize = 8;

#[derive(Clone, Debug)]
pub struct DynamoDedupStore {
    client: Client,
    table: String,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(boxed(e))
}

fn pk(agent: &AgentId, key: &str) -> String {
    // Agent ids never contain '#', so the split is unambiguous.
    format!("{agent}#{key}")
}

impl DynamoDedupStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The run holding any of the keys at `now`, read consistently.
    async fn holder(
        &self,
        agent: &AgentId,
        keys: &BTreeSet<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<RunId>, StoreError> {
        for key in keys {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(pk(agent, key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            let Some(item) = out.item else { continue };
            let expires: i128 = get_n(&item, "expires_ms").map_err(unavailable)?;
            if expires > epoch_ms(now) {
                let run = get_s(&item, "run_id").map_err(unavailable)?;
                return Ok(Some(run.parse().map_err(unavailable)?));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl DedupStore for DynamoDedupStore {
    #[tracing::instrument(skip_all, fields(agent_id = %agent, run_id = %run, keys = keys.len()))]
    async fn reserve(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Reservation, StoreError> {
        // A transaction may not touch one item twice.
        let keys: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        if keys.is_empty() {
            return Ok(Reservation::Reserved);
        }
        let ttl = expires_at.unix_timestamp() + 1;
        let mut items = Vec::with_capacity(keys.len());
        for key in &keys {
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(pk(agent, key)))
                .item("run_id", s(run.as_str()))
                .item("expires_at", n(ttl))
                .item("expires_ms", n(epoch_ms(expires_at)))
                .condition_expression("attribute_not_exists(pk) OR expires_ms <= :now")
                .expression_attribute_values(":now", n(epoch_ms(now)))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Reservation::Reserved),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    // A key is held, or a concurrent transaction touched one: find the holder;
                    // if there is none (it was released or lost too), try again.
                    if let Some(holder) = self.holder(agent, &keys, now).await? {
                        return Ok(Reservation::Duplicate(holder));
                    }
                    last_error = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(
                        20 + u64::from(rand::random::<u8>() % 50),
                    ))
                    .await;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(unavailable(last_error.expect("at least one attempt")))
    }

    #[tracing::instrument(skip_all, fields(agent_id = %agent, run_id = %run))]
    async fn release(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
    ) -> Result<(), StoreError> {
        for key in keys {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(pk(agent, key)))
                .condition_expression("run_id = :run")
                .expression_attribute_values(":run", s(run.as_str()))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }
}
