//! [`CallbackOutbox`] on the `callbacks` table. The entry is stored as its JSON view (`doc`)
//! beside its body; `state`, `next_attempt` and `attempts` are columns, so that a claim is one
//! conditional `UPDATE` of `next_attempt` and a record one conditional on `attempts`.
//! Retention deletes a run's callback with the run (`retention.rs`).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{SqliteError, SqliteStore, from_nanos, nanos};
use crate::callbacks::{CallbackOutbox, CallbackState, OutboxEntry, OutboxError};
use crate::ids::{CallbackId, RunId};

const COLUMNS: &str = "doc, body, state, next_attempt";

fn outbox_error(e: SqliteError) -> OutboxError {
    OutboxError::Unavailable(Box::new(e))
}

fn doc(entry: &OutboxEntry) -> Result<String, SqliteError> {
    serde_json::to_string(entry).map_err(SqliteError::corrupt)
}

fn from_row(row: &Row<'_>) -> Result<OutboxEntry, SqliteError> {
    let doc: String = row.get(0)?;
    let mut entry: OutboxEntry = serde_json::from_str(&doc).map_err(SqliteError::corrupt)?;
    entry.body = row.get(1)?;
    let state: String = row.get(2)?;
    entry.state = CallbackState::parse(&state)
        .ok_or_else(|| SqliteError::corrupt(std::io::Error::other("unknown callback state")))?;
    entry.next_attempt_at = row.get::<_, Option<i64>>(3)?.map(from_nanos);
    Ok(entry)
}

/// Claims `id` until `until` if it is pending and due at `now`.
fn claim_one(
    conn: &Connection,
    id: &str,
    now: i64,
    until: i64,
) -> Result<Option<OutboxEntry>, SqliteError> {
    let sql = format!(
        "UPDATE callbacks SET next_attempt = ?3
         WHERE id = ?1 AND state = 'pending' AND next_attempt <= ?2
         RETURNING {COLUMNS}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let row = stmt
        .query_row(params![id, now, until], |r| Ok(from_row(r)))
        .optional()?;
    row.transpose()
}

#[async_trait]
impl CallbackOutbox for SqliteStore {
    async fn enqueue(&self, entry: &OutboxEntry) -> Result<bool, OutboxError> {
        let doc = doc(entry).map_err(outbox_error)?;
        let entry = entry.clone();
        self.db
            .write(move |conn| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO callbacks (id, run_id, state, next_attempt, attempts, doc, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![
                        entry.id.as_str(),
                        entry.run_id.as_str(),
                        entry.state.as_str(),
                        entry.next_attempt_at.map(nanos),
                        entry.attempts.len() as i64,
                        doc,
                        entry.body,
                    ])?;
                Ok(inserted == 1)
            })
            .await
            .map_err(outbox_error)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let (now, until) = (nanos(now), nanos(until));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .write(move |conn| {
                let ids = conn
                    .prepare_cached(
                        "SELECT id FROM callbacks WHERE state = 'pending' AND next_attempt <= ?1
                         ORDER BY next_attempt LIMIT ?2",
                    )?
                    .query_map(params![now, limit], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut claimed = Vec::with_capacity(ids.len());
                for id in ids {
                    claimed.extend(claim_one(conn, &id, now, until)?);
                }
                Ok(claimed)
            })
            .await
            .map_err(outbox_error)
    }

    async fn claim(
        &self,
        id: &CallbackId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        let (id, now, until) = (id.to_string(), nanos(now), nanos(until));
        self.db
            .write(move |conn| claim_one(conn, &id, now, until))
            .await
            .map_err(outbox_error)
    }

    async fn record(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        let doc = doc(entry).map_err(outbox_error)?;
        let id = entry.id.clone();
        let (state, next, attempts) = (
            entry.state.as_str(),
            entry.next_attempt_at.map(nanos),
            entry.attempts.len() as i64,
        );
        let key = id.to_string();
        let written = self
            .db
            .write(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "UPDATE callbacks SET state = ?2, next_attempt = ?3, attempts = ?4, doc = ?5
                         WHERE id = ?1 AND state = 'pending' AND attempts = ?4 - 1",
                    )?
                    .execute(params![key, state, next, attempts, doc])?)
            })
            .await
            .map_err(outbox_error)?;
        if written == 1 {
            Ok(())
        } else {
            Err(OutboxError::Conflict(id))
        }
    }

    async fn get(&self, id: &CallbackId) -> Result<Option<OutboxEntry>, OutboxError> {
        let id = id.to_string();
        self.db
            .read(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE id = ?1");
                let row = conn
                    .prepare_cached(&sql)?
                    .query_row([id], |r| Ok(from_row(r)))
                    .optional()?;
                row.transpose()
            })
            .await
            .map_err(outbox_error)
    }

    async fn of_run(&self, run: &RunId) -> Result<Vec<OutboxEntry>, OutboxError> {
        let run = run.to_string();
        self.db
            .read(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE run_id = ?1");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt
                    .query_map([run], |r| Ok(from_row(r)))?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter().collect()
            })
            .await
            .map_err(outbox_error)
    }
}
