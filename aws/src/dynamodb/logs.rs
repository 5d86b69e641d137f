//! Log entries: keyed by run and seq; the `by_agent` index orders an agent's entries by run id
//! (creation order) and then seq, for the per-agent query.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use crewship_core::log::LogEntry;
use crewship_core::logs::{LogError, LogQuery, LogSink};
use time::OffsetDateTime;

use super::{Item, get_s, n, s};
use crate::boxed;

/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;
/// Unprocessed items are retried this often.
const ATTEMPTS: usize = 8;

#[derive(Clone, Debug)]
pub struct DynamoLogs {
    client: Client,
    table: String,
    /// A line expires (TTL attribute `expires_at`) this long after it was written.
    retention: Option<time::Duration>,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> LogError {
    LogError::Unavailable(boxed(e))
}

fn entry_item(entry: &LogEntry, expires_at: Option<OffsetDateTime>) -> Item {
    let mut item: Item = [
        ("run_id", s(entry.run_id.as_str())),
        ("seq", n(entry.seq)),
        ("agent_id", s(entry.agent_id.as_str())),
        (
            "agent_order",
            s(format!("{}#{:020}", entry.run_id, entry.seq)),
        ),
        (
            "doc",
            s(serde_json::to_string(entry).expect("log entries serialise")),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(at) = expires_at {
        item.insert("expires_at".into(), n(at.unix_timestamp()));
    }
    item
}

fn entry_from(item: &Item) -> Result<LogEntry, LogError> {
    let doc = get_s(item, "doc").map_err(unavailable)?;
    serde_json::from_str(doc).map_err(unavailable)
}

impl DynamoLogs {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: None,
        }
    }

    /// Lines expire `retention` after they were written (`store.retention_days`): with their
    /// run, which expires that long after its creation, up to a run's deadline apart.
    pub fn with_retention(mut self, retention: time::Duration) -> Self {
        self.retention = Some(retention);
        self
    }
}

#[async_trait]
impl LogSink for DynamoLogs {
    /// A retried batch writes the same items again (same key, same content): no duplicates.
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    async fn append(&self, entries: &[LogEntry]) -> Result<(), LogError> {
        for chunk in entries.chunks(BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|e| {
                    let put = PutRequest::builder()
                        .set_item(Some(entry_item(e, self.retention.map(|r| e.ts + r))))
                        .build()
                        .map_err(unavailable)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, LogError>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    if attempt >= ATTEMPTS {
                        return Err(unavailable(super::MalformedItem(
                            "log batch still unprocessed after retries".into(),
                        )));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(agent_id = %q.agent))]
    async fn query(&self, q: &LogQuery) -> Result<Vec<LogEntry>, LogError> {
        let after = q.after.unwrap_or(0);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":agent", s(q.agent.as_str()))
            .expression_attribute_values(":after", n(after))
            .scan_index_forward(true);
        request = match &q.run {
            // Another agent's run yields nothing: the agent filter keeps workspaces apart.
            Some(run) => request
                .key_condition_expression("run_id = :run AND seq > :after")
                .expression_attribute_values(":run", s(run.as_str()))
                .filter_expression("agent_id = :agent")
                .consistent_read(true),
            None => request
                .index_name("by_agent")
                .key_condition_expression("agent_id = :agent")
                .filter_expression("seq > :after"),
        };
        let page = i32::try_from(q.limit.clamp(1, 1000)).unwrap_or(1000);
        let mut entries = Vec::new();
        let mut start = None;
        while entries.len() < q.limit {
            let out = request
                .clone()
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                entries.push(entry_from(&item)?);
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        entries.truncate(q.limit);
        Ok(entries)
    }
}
