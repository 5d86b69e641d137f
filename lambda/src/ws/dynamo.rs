//! [`ConnectionStore`] on DynamoDB. One item per connection, keyed by `connection_id`; the
//! sparse GSI `by_workspace` (hash `subscribed`, present only while the connection is
//! subscribed) is the broadcaster's fan-out; `expires_at` is the table's TTL attribute.
//! The broadcaster's holds and the replay's hand-over are single conditional `UpdateItem`s,
//! so they are atomic with each other.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use crewship_aws::dynamodb::{self as attr, Item, get_bool, n, s};
use crewship_core::ids::{RunId, WorkspaceId};

use super::connections::{ConnectionError, ConnectionRecord, ConnectionStore, Held, Resume};

/// The GSI the broadcaster queries.
pub const WORKSPACE_INDEX: &str = "by_workspace";

#[derive(Debug, Clone)]
pub struct DynamoConnections {
    client: Client,
    table: String,
}

impl DynamoConnections {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(connection_id: &str) -> (String, AttributeValue) {
        (
            "connection_id".into(),
            AttributeValue::S(connection_id.into()),
        )
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ConnectionError {
    ConnectionError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

fn to_item(record: &ConnectionRecord) -> Item {
    let mut item = Item::new();
    item.insert("connection_id".into(), s(&record.connection_id));
    item.insert("connected_at".into(), n(record.connected_at));
    item.insert("expires_at".into(), n(record.expires_at));
    if let Some(workspace) = &record.workspace {
        item.insert("workspace".into(), s(workspace.as_str()));
    }
    // A connection watches its own workspace or nothing.
    if let Some(channel) = record.channels.iter().next() {
        item.insert("subscribed".into(), s(channel.as_str()));
    }
    if let Some(resume) = &record.resume {
        item.insert("resume_run".into(), s(resume.run_id.as_str()));
        item.insert("last_seq".into(), n(resume.last_seq));
        item.insert("finished".into(), AttributeValue::Bool(resume.finished));
        item.insert("replaying".into(), AttributeValue::Bool(resume.replaying));
        if let Some(seq) = resume.held_seq {
            item.insert("held_seq".into(), n(seq));
        }
        item.insert(
            "held_finished".into(),
            AttributeValue::Bool(resume.held_finished),
        );
    }
    item
}

/// The shared helpers read strictly (`Err` for absent); a connection's optional attributes
/// read as `None`.
fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    attr::get_s(item, name).ok()
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    attr::get_n(item, name).ok()
}

fn parse<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, ConnectionError> {
    get_s(item, name)
        .map(|v| {
            v.parse()
                .map_err(|_| ConnectionError::Malformed(format!("bad {name}")))
        })
        .transpose()
}

fn from_item(item: &Item) -> Result<ConnectionRecord, ConnectionError> {
    let connection_id = get_s(item, "connection_id")
        .ok_or_else(|| ConnectionError::Malformed("no connection_id".into()))?
        .to_owned();
    let workspace: Option<WorkspaceId> = parse(item, "workspace")?;
    let channels: BTreeSet<WorkspaceId> = parse(item, "subscribed")?.into_iter().collect();
    let resume = parse::<RunId>(item, "resume_run")?.map(|run_id| Resume {
        run_id,
        last_seq: get_n(item, "last_seq").unwrap_or(0).max(0) as u64,
        finished: get_bool(item, "finished"),
        replaying: get_bool(item, "replaying"),
        held_seq: get_n(item, "held_seq").map(|v| v.max(0) as u64),
        held_finished: get_bool(item, "held_finished"),
    });
    Ok(ConnectionRecord {
        connection_id,
        workspace,
        channels,
        resume,
        connected_at: get_n(item, "connected_at").unwrap_or(0),
        expires_at: get_n(item, "expires_at").unwrap_or(0),
    })
}

#[async_trait]
impl ConnectionStore for DynamoConnections {
    async fn put(&self, record: &ConnectionRecord) -> Result<(), ConnectionError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<ConnectionRecord>, ConnectionError> {
        let (k, v) = Self::key(connection_id);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(k, v)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(from_item).transpose()
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ConnectionError> {
        let (k, v) = Self::key(connection_id);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(k, v)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn subscribers(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<ConnectionRecord>, ConnectionError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(WORKSPACE_INDEX)
                .key_condition_expression("subscribed = :w")
                .expression_attribute_values(":w", s(workspace.as_str()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                records.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }

    async fn advance(&self, connection_id: &str, last_seq: u64) -> Result<(), ConnectionError> {
        let (k, v) = Self::key(connection_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(k, v)
            .update_expression("SET last_seq = :s")
            .condition_expression("attribute_exists(resume_run)")
            .expression_attribute_values(":s", n(last_seq))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn hold(
        &self,
        connection_id: &str,
        run_id: &RunId,
        seq: Option<u64>,
        finished: bool,
    ) -> Result<bool, ConnectionError> {
        let (k, v) = Self::key(connection_id);
        let mut sets = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(k, v)
            .condition_expression("resume_run = :run AND replaying = :yes")
            .expression_attribute_values(":run", s(run_id.as_str()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        // One executor publishes a run's lines in order: the newest held is the largest.
        if let Some(seq) = seq {
            sets.push("held_seq = :seq");
            update = update.expression_attribute_values(":seq", n(seq));
        }
        if finished {
            sets.push("held_finished = :yes");
        }
        if sets.is_empty() {
            // Nothing to remember (a `run.started`): the replay's lines come first anyway.
            sets.push("replaying = :yes");
        }
        let result = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn end_replay(
        &self,
        connection_id: &str,
        last_seq: u64,
        finished: bool,
    ) -> Result<Held, ConnectionError> {
        let (k, v) = Self::key(connection_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(k, v)
            .update_expression(
                "SET replaying = :no, last_seq = :s, finished = :fin \
                 REMOVE held_seq, held_finished",
            )
            .condition_expression("attribute_exists(resume_run)")
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":s", n(last_seq))
            .expression_attribute_values(":fin", AttributeValue::Bool(finished))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let old = out.attributes().cloned().unwrap_or_default();
                Ok(Held {
                    seq: get_n(&old, "held_seq").map(|v| v.max(0) as u64),
                    finished: get_bool(&old, "held_finished"),
                })
            }
            Err(e) if is_condition_failed(&e) => Ok(Held::default()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn is_condition_failed<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        R,
    >,
) -> bool {
    e.as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}
