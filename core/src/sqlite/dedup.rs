//! [`DedupStore`] on the `dedup` table: a reservation is one conditional write on the writer
//! thread, so two concurrent ones of a key cannot both win. An expired row counts as free; the
//! retention sweep deletes them.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::{SqliteStore, nanos, unavailable};
use crate::ids::{AgentId, RunId};
use crate::store::{DedupStore, Reservation, StoreError};

#[async_trait]
impl DedupStore for SqliteStore {
    async fn reserve(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Reservation, StoreError> {
        let (agent, keys, run) = (agent.clone(), keys.to_vec(), run.clone());
        self.db
            .write(move |conn| {
                let mut held = conn.prepare_cached(
                    "SELECT run_id FROM dedup WHERE agent_id = ?1 AND key = ?2 AND expires > ?3",
                )?;
                for key in &keys {
                    let holder: Option<String> = held
                        .query_row(params![agent.as_str(), key, nanos(now)], |r| r.get(0))
                        .optional()?;
                    if let Some(holder) = holder.and_then(|h| h.parse().ok()) {
                        return Ok(Reservation::Duplicate(holder));
                    }
                }
                let mut take = conn.prepare_cached(
                    "INSERT INTO dedup (agent_id, key, run_id, expires) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (agent_id, key)
                     DO UPDATE SET run_id = excluded.run_id, expires = excluded.expires",
                )?;
                for key in &keys {
                    take.execute(params![
                        agent.as_str(),
                        key,
                        run.as_str(),
                        nanos(expires_at)
                    ])?;
                }
                Ok(Reservation::Reserved)
            })
            .await
            .map_err(unavailable)
    }

    async fn release(
        &self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
    ) -> Result<(), StoreError> {
        let (agent, keys, run) = (agent.clone(), keys.to_vec(), run.clone());
        self.db
            .write(move |conn| {
                let mut release = conn.prepare_cached(
                    "DELETE FROM dedup WHERE agent_id = ?1 AND key = ?2 AND run_id = ?3",
                )?;
                for key in &keys {
                    release.execute(params![agent.as_str(), key, run.as_str()])?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)
    }
}
