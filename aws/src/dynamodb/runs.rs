//! Runs in DynamoDB: create-if-absent, conditional transitions, the claim within the agent's
//! cap (with `slots`), the per-agent listing, counts and the expired-lease sweep (keys and
//! indexes: see the crate docs).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};
use crewship_core::ids::{AgentId, RunId};
use crewship_core::run::{Lease, Run, RunStatus};
use crewship_core::store::{LeaseRenewal, Page, RunFilter, RunStore, StoreError};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::item::{self, LEASED, QUEUED, StoredPayload};
use super::run_write::RunWrite;
use super::slots;
use super::{Item, cursor, epoch_ms, n, s};
use crate::boxed;
use crate::payloads::S3Payloads;

/// Items read per query page while a filtered listing fills up.
const QUERY_PAGE: i32 = 100;

#[derive(Clone, Debug)]
pub struct DynamoRunStore {
    client: Client,
    table: String,
    payloads: S3Payloads,
    /// A run expires (TTL attribute `expires_at`) this long after its creation.
    retention: Option<time::Duration>,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(boxed(e))
}

impl DynamoRunStore {
    pub fn new(client: Client, table: impl Into<String>, payloads: S3Payloads) -> Self {
        Self {
            client,
            table: table.into(),
            payloads,
            retention: None,
        }
    }

    /// Runs expire `retention` after their creation (`store.retention_days`).
    pub fn with_retention(mut self, retention: time::Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// The run of an item. A payload object that is gone degrades this run's `payload` to
    /// `null` with `payload_missing`, so one lost object never fails a whole listing.
    async fn decode(&self, item: &Item) -> Result<Run, StoreError> {
        let (payload, missing) = match item::stored_payload(item).map_err(unavailable)? {
            StoredPayload::Inline(raw) => (raw, false),
            StoredPayload::External(key) => match self.payloads.get(&key).await? {
                Some(raw) => (raw, false),
                None => (
                    RawValue::from_string("null".into()).expect("valid JSON"),
                    true,
                ),
            },
        };
        let mut run = item::run_from_item(item, &payload).map_err(unavailable)?;
        if missing {
            tracing::warn!(run_id = %run.id, "payload object missing; the run is shown without it");
            run.payload_missing = true;
        }
        Ok(run)
    }

    async fn current_status(&self, id: &RunId) -> Result<RunStatus, StoreError> {
        match self.get(id).await? {
            Some(run) => Ok(run.status),
            None => Err(StoreError::NotFound(id.clone())),
        }
    }

    /// The `Conflict` of a write that lost, naming the run's status now.
    async fn conflict(&self, id: &RunId) -> Result<StoreError, StoreError> {
        Ok(StoreError::Conflict {
            id: id.clone(),
            current: self.current_status(id).await?,
        })
    }

    /// The run's status, version and whether it holds a slot of its agent's count, read
    /// consistently before a run leaves RUNNING: the slot decides whether the write is a
    /// transaction, and one is made only for a run still as its writer read it, since one that
    /// fails is costly (and moto, which the tests run on, restores a snapshot of the whole table
    /// when one fails, undoing concurrent writes).
    async fn as_stored(&self, run: &Run) -> Result<Stored, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(run.id.as_str()))
            .projection_expression("#status, #version, slot")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Err(StoreError::NotFound(run.id.clone()));
        };
        let status = super::get_s(&item, "status")
            .ok()
            .and_then(RunStatus::parse)
            .ok_or_else(|| unavailable(super::MalformedItem("status".into())))?;
        let version: u64 = super::get_n(&item, "version").map_err(unavailable)?;
        Ok(Stored {
            status,
            current: version == run.version,
            slot: super::get_bool(&item, "slot"),
        })
    }

    /// The run's write and a slot write, all or nothing. `Ok(true)` when written; `Ok(false)`
    /// when the run is still as the caller read it, so the slot's condition failed; a
    /// `Conflict` when the run moved. A transaction that collided with a concurrent one (two
    /// claims of one agent at once) is tried again.
    async fn transact(
        &self,
        run: &mut Run,
        write: &RunWrite,
        slot: TransactWriteItem,
    ) -> Result<bool, StoreError> {
        let items = vec![slot, write.transact_item(&self.table, &run.id)?];
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match result {
                Ok(_) => {
                    run.version = write.next_version;
                    return Ok(true);
                }
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
                e.as_service_error()
            else {
                return Err(unavailable(e));
            };
            let collided = canceled
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"));
            if collided && attempt < TRANSACTION_ATTEMPTS {
                tokio::time::sleep(std::time::Duration::from_millis(
                    10 + u64::from(rand::random::<u8>() % 40),
                ))
                .await;
                continue;
            }
            break;
        }
        match self.get(&run.id).await? {
            Some(stored) if stored.status == write.prev && stored.version == run.version => {
                Ok(false)
            }
            Some(stored) => Err(StoreError::Conflict {
                id: run.id.clone(),
                current: stored.status,
            }),
            None => Err(StoreError::NotFound(run.id.clone())),
        }
    }
}

/// What [`DynamoRunStore::as_stored`] reads of a run.
#[derive(Debug, Clone, Copy)]
struct Stored {
    status: RunStatus,
    /// Its version is the one the writer read.
    current: bool,
    slot: bool,
}

/// Transactions that collided with a concurrent one are tried this often.
const TRANSACTION_ATTEMPTS: usize = 5;

#[async_trait]
impl RunStore for DynamoRunStore {
    #[tracing::instrument(skip_all, fields(run_id = %run.id))]
    async fn create(&self, run: &Run) -> Result<(), StoreError> {
        let payload_ref = if run.payload.get().len() > item::INLINE_PAYLOAD_LIMIT {
            Some(self.payloads.put(&run.id, &run.payload).await?)
        } else {
            None
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::new_item(
                run,
                payload_ref.as_deref(),
                self.retention.map(|r| run.created_at + r),
            )))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(run.id.clone()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip(self), fields(run_id = %id))]
    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item {
            Some(item) => Ok(Some(self.decode(&item).await?)),
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip_all, fields(run_id = %run.id, prev = %prev, to = %run.status))]
    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        if prev.is_terminal() {
            return Err(self.conflict(&run.id).await?);
        }
        // A run that leaves RUNNING gives its agent's slot back, in the same transaction.
        let leaves_running = prev == RunStatus::Running && run.status != RunStatus::Running;
        let stored = match leaves_running {
            true => Some(self.as_stored(run).await?),
            false => None,
        };
        if let Some(stored) = &stored
            && (stored.status != prev || !stored.current)
        {
            return Err(StoreError::Conflict {
                id: run.id.clone(),
                current: stored.status,
            });
        }
        if stored.is_some_and(|s| s.slot) {
            let write = RunWrite::new(run, prev, &[], &["slot"]);
            let release = slots::release(&self.table, &run.agent_id)?;
            return match self.transact(run, &write, release).await? {
                true => Ok(()),
                // The run is as read, so the transaction kept colliding: worth a retry.
                false => Err(StoreError::Unavailable(
                    "the run's write kept colliding with concurrent transactions".into(),
                )),
            };
        }
        let write = RunWrite::new(run, prev, &[], &[]);
        let result = write
            .apply(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("id", s(run.id.as_str())),
            )
            .send()
            .await;
        match result {
            Ok(_) => {
                run.version = write.next_version;
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(self.conflict(&run.id).await?)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip_all, fields(run_id = %run.id, cap))]
    async fn claim_within(&self, run: &mut Run, cap: u32) -> Result<bool, StoreError> {
        // A run waiting on its cap is looked at again and again: one read answers that, and
        // the transaction (whose condition decides) is made only when there seems to be room.
        if slots::running(&self.client, &self.table, &run.agent_id).await? >= u64::from(cap) {
            return Ok(false);
        }
        let write = RunWrite::new(
            run,
            RunStatus::Queued,
            &[("slot", AttributeValue::Bool(true))],
            &[],
        );
        let take = slots::take(&self.table, &run.agent_id, cap)?;
        self.transact(run, &write, take).await
    }

    /// One `UpdateItem` of the lease attributes and the version, conditional on the run being
    /// RUNNING under this owner. `cancel_requested` is read from the item it returns
    /// (`ALL_NEW`: returned values cost no capacity; `UPDATED_NEW` leaves out an attribute the
    /// write did not change).
    #[tracing::instrument(skip(self, lease), fields(run_id = %id))]
    async fn renew_lease(&self, id: &RunId, lease: &Lease) -> Result<LeaseRenewal, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression(
                "attribute_exists(id) AND #status = :running AND lease_owner = :owner",
            )
            .update_expression(
                "SET lease_expires = :expires, leased = :leased, #version = #version + :one",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
            .expression_attribute_values(":owner", s(lease.owner.clone()))
            .expression_attribute_values(":expires", n(epoch_ms(lease.expires_at)))
            .expression_attribute_values(":leased", s(LEASED))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(LeaseRenewal::Renewed {
                cancel_requested: out
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get("cancel_requested"))
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(LeaseRenewal::Lost)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    fn cursor_after(&self, id: &RunId) -> String {
        cursor::encode(id)
    }

    #[tracing::instrument(skip(self, filter, cursor), fields(agent_id = %agent))]
    async fn list_by_agent(
        &self,
        agent: &AgentId,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        let mut start: Option<Item> = cursor.map(cursor::decode).transpose()?.map(|after| {
            [
                ("id".to_owned(), s(after.as_str())),
                ("agent_id".to_owned(), s(agent.as_str())),
            ]
            .into()
        });
        let mut filters = Vec::new();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_agent")
            .key_condition_expression("agent_id = :agent")
            .expression_attribute_values(":agent", s(agent.as_str()))
            .scan_index_forward(false)
            .limit(QUERY_PAGE);
        if let Some(trigger) = filter.trigger {
            filters.push("#trigger = :trigger");
            request = request
                .expression_attribute_names("#trigger", "trigger")
                .expression_attribute_values(":trigger", s(trigger.as_str()));
        }
        if let Some(status) = filter.status {
            filters.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        // A filtered page can come back short: read on until one run more than the page (so
        // we know whether a next page exists) or the end of the index.
        let mut items: Vec<Item> = Vec::new();
        loop {
            let out = request
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if items.len() <= limit => start = Some(key),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let mut runs = Vec::with_capacity(items.len());
        for item in &items {
            runs.push(self.decode(item).await?);
        }
        let next = if more {
            runs.last().map(|r| cursor::encode(&r.id))
        } else {
            None
        };
        Ok(Page { items: runs, next })
    }

    #[tracing::instrument(skip(self), fields(agent_id = %agent))]
    async fn count_by_status(&self, agent: &AgentId, status: RunStatus) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by_agent_status")
                .key_condition_expression("agent_status = :key")
                .expression_attribute_values(":key", s(format!("{agent}#{status}")))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            total += u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(total),
            }
        }
    }

    #[tracing::instrument(skip(self))]
    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_lease")
            .key_condition_expression("leased = :leased AND lease_expires < :now")
            .expression_attribute_values(":leased", s(LEASED))
            .expression_attribute_values(":now", n(epoch_ms(now)));
        let mut runs = Vec::new();
        for item in query_all(request).await? {
            let run = self.decode(&item).await?;
            // The index is eventually consistent: it may lag a transition.
            if run.status == RunStatus::Running {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    #[tracing::instrument(skip(self))]
    async fn queued_created_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Run>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_queued")
            .key_condition_expression("queued = :queued AND created_ms BETWEEN :from AND :to")
            .expression_attribute_values(":queued", s(QUEUED))
            .expression_attribute_values(":from", n(epoch_ms(from)))
            // BETWEEN is inclusive; the range is not.
            .expression_attribute_values(":to", n(epoch_ms(to) - 1));
        let mut runs = Vec::new();
        for item in query_all(request).await? {
            // A keys-only index, eventually consistent: the run is read for what it is now.
            let id: RunId = super::get_s(&item, "id")
                .map_err(unavailable)?
                .parse()
                .map_err(unavailable)?;
            if let Some(run) = self.get(&id).await?
                && run.status == RunStatus::Queued
            {
                runs.push(run);
            }
        }
        Ok(runs)
    }
}

/// Every item a query matches, page after page.
async fn query_all(request: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = request
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return Ok(items),
        }
    }
}
