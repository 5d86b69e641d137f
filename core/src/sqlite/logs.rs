//! [`LogSink`] on the `logs` table: keyed by run and seq, so a retried batch inserts nothing
//! twice; per agent, runs in id (creation) order, each in seq order.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteError, SqliteStore};
use crate::log::LogEntry;
use crate::logs::{LogError, LogQuery, LogSink};

fn unavailable(e: SqliteError) -> LogError {
    LogError::Unavailable(Box::new(e))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl LogSink for SqliteStore {
    async fn append(&self, entries: &[LogEntry]) -> Result<(), LogError> {
        let entries = entries.to_vec();
        self.db
            .write(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO logs (run_id, seq, agent_id, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (run_id, seq) DO NOTHING",
                )?;
                for e in &entries {
                    let doc = serde_json::to_string(e).map_err(SqliteError::corrupt)?;
                    insert.execute(params![
                        e.run_id.as_str(),
                        to_i64(e.seq),
                        e.agent_id.as_str(),
                        doc
                    ])?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)
    }

    async fn query(&self, q: &LogQuery) -> Result<Vec<LogEntry>, LogError> {
        let q = q.clone();
        self.db
            .read(move |conn| {
                let after = to_i64(q.after.unwrap_or(0));
                let limit = to_i64(q.limit as u64);
                let mut stmt = conn.prepare_cached(
                    "SELECT doc FROM logs
                     WHERE agent_id = ?1 AND (?2 IS NULL OR run_id = ?2) AND seq > ?3
                     ORDER BY run_id, seq LIMIT ?4",
                )?;
                let rows = stmt.query_map(
                    params![
                        q.agent.as_str(),
                        q.run.as_ref().map(|r| r.as_str()),
                        after,
                        limit
                    ],
                    |r| r.get::<_, String>(0),
                )?;
                rows.map(|doc| serde_json::from_str(&doc?).map_err(SqliteError::corrupt))
                    .collect()
            })
            .await
            .map_err(unavailable)
    }
}
