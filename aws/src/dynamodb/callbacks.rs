//! [`CallbackOutbox`] in DynamoDB (the crate docs' `callbacks` table).
//!
//! Two items per callback, written in one transaction: `cb#<callback id>` holds the entry (its
//! JSON view in `doc`, the frozen `body`, and `state`, `attempts`, `next_at` as attributes the
//! conditions use), and `run#<run id>` names it, which keeps a run to one callback. While the
//! callback is pending it carries `due`, the partition key of the sparse `by_due` index
//! (`due`, `next_at`), so what is due is one range query over pending callbacks only. A claim
//! is a conditional write of `next_at`, a record one conditional on `attempts`. Both items
//! expire (TTL `expires_at`) the runs' retention after the callback was created, at the run's
//! end, as log lines do after their line.
//!
//! With [`CallbackQueue`], every new callback is also announced on the callbacks queue, which
//! `callback-lambda` drains; without one (or when the notice fails), the sweep finds it.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use crewship_core::callbacks::{CallbackOutbox, CallbackState, OutboxEntry, OutboxError};
use crewship_core::ids::{CallbackId, RunId};
use time::OffsetDateTime;

use super::{Item, MalformedItem, get_n, get_s, n, s};
use crate::boxed;
use crate::callback_queue::CallbackQueue;

/// The value of the sparse `due` attribute (partition key of `by_due`).
pub const DUE: &str = "PENDING";

#[derive(Clone, Debug)]
pub struct DynamoOutbox {
    client: Client,
    table: String,
    retention: time::Duration,
    queue: Option<CallbackQueue>,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> OutboxError {
    OutboxError::Unavailable(boxed(e))
}

fn entry_key(id: &CallbackId) -> AttributeValue {
    s(format!("cb#{id}"))
}

fn run_key(run: &RunId) -> AttributeValue {
    s(format!("run#{run}"))
}

fn nanos(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos()
}

fn entry_from(item: &Item) -> Result<OutboxEntry, MalformedItem> {
    let mut entry: OutboxEntry = serde_json::from_str(get_s(item, "doc")?)
        .map_err(|e| MalformedItem(format!("doc: {e}")))?;
    get_s(item, "body")?.clone_into(&mut entry.body);
    entry.state = CallbackState::parse(get_s(item, "state")?)
        .ok_or_else(|| MalformedItem("unknown callback state".into()))?;
    entry.next_attempt_at = match item.get("next_at") {
        Some(_) => Some(
            OffsetDateTime::from_unix_timestamp_nanos(get_n(item, "next_at")?)
                .map_err(|e| MalformedItem(format!("next_at: {e}")))?,
        ),
        None => None,
    };
    Ok(entry)
}

fn doc(entry: &OutboxEntry) -> String {
    serde_json::to_string(entry).expect("an outbox entry serialises")
}

fn is_condition_failure<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    e.as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}

impl DynamoOutbox {
    /// `retention`: how long after its creation a callback expires (the runs' retention).
    pub fn new(client: Client, table: impl Into<String>, retention: time::Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
            queue: None,
        }
    }

    pub fn with_queue(mut self, queue: CallbackQueue) -> Self {
        self.queue = Some(queue);
        self
    }

    fn expires_at(&self, entry: &OutboxEntry) -> AttributeValue {
        n((entry.created_at + self.retention).unix_timestamp())
    }

    async fn read(&self, key: AttributeValue) -> Result<Option<Item>, OutboxError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    fn put(&self, item: Item) -> Result<TransactWriteItem, OutboxError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Claims `id` until `until` if it is pending and due at `now`.
    async fn claim_key(
        &self,
        key: AttributeValue,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key)
            .update_expression("SET next_at = :until")
            .condition_expression("#state = :pending AND next_at <= :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(CallbackState::Pending.as_str()))
            .expression_attribute_values(":now", n(nanos(now)))
            .expression_attribute_values(":until", n(nanos(until)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Some(entry_from(&item).map_err(unavailable)?))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl CallbackOutbox for DynamoOutbox {
    #[tracing::instrument(skip_all, fields(run_id = %entry.run_id, callback_id = %entry.id))]
    async fn enqueue(&self, entry: &OutboxEntry) -> Result<bool, OutboxError> {
        let expires_at = self.expires_at(entry);
        let mut item: Item = [
            ("pk", entry_key(&entry.id)),
            ("run_id", s(entry.run_id.as_str())),
            ("doc", s(doc(entry))),
            ("body", s(entry.body.clone())),
            ("state", s(entry.state.as_str())),
            ("attempts", n(entry.attempts.len())),
            ("expires_at", expires_at.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(at) = entry.next_attempt_at.filter(|_| !entry.is_finished()) {
            item.insert("next_at".into(), n(nanos(at)));
            item.insert("due".into(), s(DUE));
        }
        let pointer: Item = [
            ("pk", run_key(&entry.run_id)),
            ("callback_id", s(entry.id.as_str())),
            ("expires_at", expires_at),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put(pointer)?)
            .transact_items(self.put(item)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                // The run has its callback already; or a concurrent write, which is the same.
                if self.read(run_key(&entry.run_id)).await?.is_some() {
                    return Ok(false);
                }
                return Err(unavailable(e));
            }
            Err(e) => return Err(unavailable(e)),
        }
        if let Some(queue) = &self.queue
            && let Err(e) = queue.send(&entry.id).await
        {
            tracing::warn!(error = %e, "the callbacks queue was not told; the sweep will find the callback");
        }
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_due")
            .key_condition_expression("due = :due AND next_at <= :now")
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":now", n(nanos(now)))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        let mut claimed = Vec::new();
        // The index is read eventually consistently: each claim checks again, on the item.
        for item in out.items.unwrap_or_default() {
            let Some(key) = item.get("pk").cloned() else {
                continue;
            };
            claimed.extend(self.claim_key(key, now, until).await?);
        }
        Ok(claimed)
    }

    #[tracing::instrument(skip(self))]
    async fn claim(
        &self,
        id: &CallbackId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        self.claim_key(entry_key(id), now, until).await
    }

    #[tracing::instrument(skip_all, fields(callback_id = %entry.id))]
    async fn record(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        let pending = !entry.is_finished();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", entry_key(&entry.id))
            .condition_expression("#state = :pending AND attempts = :previous")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(CallbackState::Pending.as_str()))
            .expression_attribute_values(":previous", n(entry.attempts.len().saturating_sub(1)))
            .expression_attribute_values(":doc", s(doc(entry)))
            .expression_attribute_values(":state", s(entry.state.as_str()))
            .expression_attribute_values(":attempts", n(entry.attempts.len()));
        update = match entry.next_attempt_at.filter(|_| pending) {
            Some(at) => update
                .update_expression(
                    "SET doc = :doc, #state = :state, attempts = :attempts, next_at = :next, due = :due",
                )
                .expression_attribute_values(":next", n(nanos(at)))
                .expression_attribute_values(":due", s(DUE)),
            None => update.update_expression(
                "SET doc = :doc, #state = :state, attempts = :attempts REMOVE next_at, due",
            ),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(OutboxError::Conflict(entry.id.clone())),
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn get(&self, id: &CallbackId) -> Result<Option<OutboxEntry>, OutboxError> {
        match self.read(entry_key(id)).await? {
            Some(item) => Ok(Some(entry_from(&item).map_err(unavailable)?)),
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn of_run(&self, run: &RunId) -> Result<Vec<OutboxEntry>, OutboxError> {
        let Some(pointer) = self.read(run_key(run)).await? else {
            return Ok(Vec::new());
        };
        let id: CallbackId = get_s(&pointer, "callback_id")
            .map_err(unavailable)?
            .parse()
            .map_err(unavailable)?;
        Ok(self.get(&id).await?.into_iter().collect())
    }
}
