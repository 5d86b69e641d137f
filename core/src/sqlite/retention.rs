//! [`Retention`] on the SQLite tables: one transaction deletes the runs past the policy, their
//! log entries and callbacks, and the expired dedup reservations. A sweep deletes at most
//! [`SWEEP_MAX`] runs, so that the writer (and the webhooks waiting on it) is never held for
//! long; the next sweep takes the rest.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{SqliteError, SqliteStore, nanos, unavailable};
use crate::ids::AgentId;
use crate::retention::{Retention, RetentionPolicy, Swept, cutoff};
use crate::run::RunStatus;
use crate::store::StoreError;

const SWEEP_MAX: i64 = 10_000;

const FINISHED: &str = "status NOT IN ('QUEUED', 'RUNNING')";

fn doomed(conn: &Connection, cutoff: i64, keep: i64) -> Result<Vec<String>, SqliteError> {
    let sql = format!(
        "SELECT id FROM runs WHERE {FINISHED} AND finished_at < ?1
         UNION
         SELECT id FROM (
             SELECT id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY id DESC) AS newer
             FROM runs WHERE {FINISHED}
         ) WHERE newer > ?2
         LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(params![cutoff, keep, SWEEP_MAX], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

#[async_trait]
impl Retention for SqliteStore {
    async fn sweep(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<Swept, StoreError> {
        let cutoff = nanos(cutoff(policy, now));
        let keep = i64::try_from(policy.max_runs_per_agent).unwrap_or(i64::MAX);
        let cache = self.cache.clone();
        self.db
            .write(move |conn| {
                let ids = doomed(conn, cutoff, keep)?;
                let mut logs = conn.prepare_cached("DELETE FROM logs WHERE run_id = ?1")?;
                let mut callbacks =
                    conn.prepare_cached("DELETE FROM callbacks WHERE run_id = ?1")?;
                let mut runs = conn.prepare_cached(&format!(
                    "DELETE FROM runs WHERE id = ?1 AND {FINISHED} RETURNING agent_id, status"
                ))?;
                let mut deleted = 0;
                for id in &ids {
                    logs.execute([id])?;
                    callbacks.execute([id])?;
                    let gone: Option<(String, String)> = runs
                        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((agent, status)) = gone
                        && let (Ok(agent), Some(status)) =
                            (agent.parse::<AgentId>(), RunStatus::parse(&status))
                    {
                        cache.counted(&agent, status, -1);
                        deleted += 1;
                    }
                }
                let reservations =
                    conn.execute("DELETE FROM dedup WHERE expires <= ?1", [nanos(now)])? as u64;
                Ok(Swept {
                    runs: deleted,
                    reservations,
                })
            })
            .await
            .map_err(unavailable)
    }
}
