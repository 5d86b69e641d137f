//! [`RunStore`] on the `runs` table. Every update is a conditional write on the writer thread:
//! it reads the stored status and version and writes only if both are still the caller's.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::cache::Cache;
use super::{SqliteError, SqliteStore, from_nanos, nanos, unavailable};
use crate::ids::{AgentId, RunId};
use crate::run::{Lease, Run, RunStatus};
use crate::store::{LeaseRenewal, Page, RunFilter, RunStore, StoreError};

/// The columns [`from_row`] reads, in order.
pub(super) const COLUMNS: &str =
    "doc, payload, version, lease_owner, lease_expires, cancel_requested";

/// The record without its payload (its own column), as JSON. Made by the caller, before the
/// write job: the writer thread is the store's bottleneck, and serialising is not its work.
pub(super) fn doc(run: &Run) -> Result<String, SqliteError> {
    let mut bare = run.clone();
    bare.payload = RawValue::from_string("null".into())
        .map_err(SqliteError::corrupt)?
        .into();
    serde_json::to_string(&bare).map_err(SqliteError::corrupt)
}

pub(super) fn from_row(row: &Row<'_>) -> Result<Run, SqliteError> {
    let doc: String = row.get(0)?;
    let payload: String = row.get(1)?;
    let mut run: Run = serde_json::from_str(&doc).map_err(SqliteError::corrupt)?;
    run.payload = RawValue::from_string(payload)
        .map_err(SqliteError::corrupt)?
        .into();
    run.version = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
    let owner: Option<String> = row.get(3)?;
    let expires: Option<i64> = row.get(4)?;
    run.lease = expires.map(|at| Lease {
        owner: owner.unwrap_or_default(),
        expires_at: from_nanos(at),
    });
    run.cancel_requested = row.get(5)?;
    Ok(run)
}

/// Inserts a new run; `Ok(Err(AlreadyExists))` when the id is taken.
pub(super) fn insert(
    conn: &rusqlite::Connection,
    cache: &Cache,
    run: &Run,
    doc: &str,
) -> Result<Result<(), StoreError>, SqliteError> {
    let inserted = conn.prepare_cached(
        "INSERT INTO runs (id, agent_id, status, trigger_type, version, lease_owner, lease_expires,
                           cancel_requested, finished_at, doc, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
            run.id.as_str(),
            run.agent_id.as_str(),
            run.status.as_str(),
            run.trigger_type.as_str(),
            i64::try_from(run.version).unwrap_or(i64::MAX),
            run.lease.as_ref().map(|l| l.owner.as_str()),
            run.lease.as_ref().map(|l| nanos(l.expires_at)),
            run.cancel_requested,
            run.finished_at.map(nanos),
            doc,
            run.payload.get(),
        ])?;
    Ok(if inserted == 1 {
        cache.counted(&run.agent_id, run.status, 1);
        Ok(())
    } else {
        Err(StoreError::AlreadyExists(run.id.clone()))
    })
}

/// `RunStore::update` inside the writer: the conditional check, the write, the counts.
fn write_update(
    conn: &Connection,
    next: &Run,
    prev: RunStatus,
    doc: String,
    cache: &Cache,
) -> Result<Result<(), StoreError>, SqliteError> {
    let stored: Option<(String, i64)> = conn
        .prepare_cached("SELECT status, version FROM runs WHERE id = ?1")?
        .query_row([next.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((status, version)) = stored else {
        return Ok(Err(StoreError::NotFound(next.id.clone())));
    };
    let current = RunStatus::parse(&status)
        .ok_or_else(|| SqliteError::corrupt(StoreError::NotFound(next.id.clone())))?;
    let version = u64::try_from(version).unwrap_or(0);
    if prev.is_terminal() || current != prev || version != next.version {
        return Ok(Err(StoreError::Conflict {
            id: next.id.clone(),
            current,
        }));
    }
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, version = ?3, lease_owner = ?4, lease_expires = ?5,
                         cancel_requested = ?6, finished_at = ?7, doc = ?8
         WHERE id = ?1",
    )?
    .execute(params![
        next.id.as_str(),
        next.status.as_str(),
        i64::try_from(version + 1).unwrap_or(i64::MAX),
        next.lease.as_ref().map(|l| l.owner.as_str()),
        next.lease.as_ref().map(|l| nanos(l.expires_at)),
        next.cancel_requested,
        next.finished_at.map(nanos),
        doc,
    ])?;
    if current != next.status {
        cache.counted(&next.agent_id, current, -1);
        cache.counted(&next.agent_id, next.status, 1);
    }
    Ok(Ok(()))
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn create(&self, run: &Run) -> Result<(), StoreError> {
        let (run, cache) = (run.clone(), self.cache.clone());
        let doc = doc(&run).map_err(unavailable)?;
        self.db
            .write(move |conn| insert(conn, &cache, &run, &doc))
            .await
            .map_err(unavailable)?
    }

    async fn get(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let id = id.clone();
        self.db
            .read(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = ?1");
                conn.query_row(&sql, [id.as_str()], |row| Ok(from_row(row)))
                    .optional()?
                    .transpose()
            })
            .await
            .map_err(unavailable)
    }

    async fn update(&self, run: &mut Run, prev: RunStatus) -> Result<(), StoreError> {
        let (next, cache) = (run.clone(), self.cache.clone());
        let doc = doc(&next).map_err(unavailable)?;
        self.db
            .write(move |conn| write_update(conn, &next, prev, doc, &cache))
            .await
            .map_err(unavailable)??;
        run.version += 1;
        Ok(())
    }

    async fn claim_within(&self, run: &mut Run, cap: u32) -> Result<bool, StoreError> {
        let (next, cache) = (run.clone(), self.cache.clone());
        let doc = doc(&next).map_err(unavailable)?;
        // One write closure: the count and the claim share the single writer, so no other
        // claim comes between them.
        let claimed = self
            .db
            .write(move |conn| {
                let running: i64 = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM runs WHERE agent_id = ?1 AND status = 'RUNNING'",
                    )?
                    .query_row([next.agent_id.as_str()], |r| r.get(0))?;
                if running >= i64::from(cap) {
                    return Ok(Ok(false));
                }
                Ok(write_update(conn, &next, RunStatus::Queued, doc, &cache)?.map(|()| true))
            })
            .await
            .map_err(unavailable)??;
        if claimed {
            run.version += 1;
        }
        Ok(claimed)
    }

    async fn list_by_agent(
        &self,
        agent: &AgentId,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, StoreError> {
        let after: Option<RunId> = cursor
            .map(|c| c.parse().map_err(|_| StoreError::BadCursor))
            .transpose()?;
        let (agent, filter) = (agent.clone(), filter.clone());
        let mut items = self
            .db
            .read(move |conn| {
                let sql = format!(
                    "SELECT {COLUMNS} FROM runs
                     WHERE agent_id = ?1 AND (?2 IS NULL OR id < ?2)
                       AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR trigger_type = ?4)
                     ORDER BY id DESC LIMIT ?5"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(
                    params![
                        agent.as_str(),
                        after.as_ref().map(RunId::as_str),
                        filter.status.map(RunStatus::as_str),
                        filter.trigger.map(|t| t.as_str()),
                        i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
                    ],
                    |row| Ok(from_row(row)),
                )?;
                rows.map(|r| r?).collect::<Result<Vec<Run>, SqliteError>>()
            })
            .await
            .map_err(unavailable)?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn count_by_status(&self, agent: &AgentId, status: RunStatus) -> Result<u64, StoreError> {
        Ok(self.cache.count(agent, status))
    }

    async fn renew_lease(&self, id: &RunId, lease: &Lease) -> Result<LeaseRenewal, StoreError> {
        let (id, lease) = (id.clone(), lease.clone());
        self.db
            .write(move |conn| {
                // The lease columns and the version only: the run's document is not rewritten.
                let renewed = conn
                    .prepare_cached(
                        "UPDATE runs SET lease_expires = ?3, version = version + 1
                         WHERE id = ?1 AND status = 'RUNNING' AND lease_owner = ?2
                         RETURNING cancel_requested",
                    )?
                    .query_row(
                        params![id.as_str(), lease.owner.as_str(), nanos(lease.expires_at)],
                        |r| r.get::<_, bool>(0),
                    )
                    .optional()?;
                if let Some(cancel_requested) = renewed {
                    return Ok(Ok(LeaseRenewal::Renewed { cancel_requested }));
                }
                let exists = conn
                    .prepare_cached("SELECT 1 FROM runs WHERE id = ?1")?
                    .query_row([id.as_str()], |_| Ok(()))
                    .optional()?
                    .is_some();
                Ok(if exists {
                    Ok(LeaseRenewal::Lost)
                } else {
                    Err(StoreError::NotFound(id.clone()))
                })
            })
            .await
            .map_err(unavailable)?
    }

    async fn queued_created_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Run>, StoreError> {
        self.db
            .read(move |conn| {
                // Run ids are time-ordered, so id order is creation order; the creation time
                // itself is in the document. QUEUED runs are few: the scan stays small.
                let sql = format!("SELECT {COLUMNS} FROM runs WHERE status = 'QUEUED' ORDER BY id");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map([], |row| Ok(from_row(row)))?;
                let mut runs = Vec::new();
                for run in rows {
                    let run = run??;
                    if run.created_at >= from && run.created_at < to {
                        runs.push(run);
                    }
                }
                Ok(runs)
            })
            .await
            .map_err(unavailable)
    }

    async fn expired_leases(&self, now: OffsetDateTime) -> Result<Vec<Run>, StoreError> {
        self.db
            .read(move |conn| {
                let sql = format!(
                    "SELECT {COLUMNS} FROM runs
                     WHERE status = 'RUNNING' AND lease_expires IS NOT NULL AND lease_expires < ?1"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map([nanos(now)], |row| Ok(from_row(row)))?;
                rows.map(|r| r?).collect::<Result<Vec<Run>, SqliteError>>()
            })
            .await
            .map_err(unavailable)
    }
}
