//! [`RunQueue`] on the `queue` table, with SQS's semantics: a received message is hidden until
//! its visibility time (wall-clock milliseconds, so it holds across a restart), then received
//! again with a higher count unless acked; each receive hands out a new receipt, and the old
//! one stops working. Receivers wait on a [`Notify`] that sends and extensions ring, and wake by
//! themselves when the next hidden message becomes visible.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::SqliteError;
use super::db::Db;
use crate::ids::RunId;
use crate::queue::{Delivery, QueueError, RunQueue};

pub struct SqliteQueue {
    db: Arc<Db>,
    notify: Notify,
    visibility: Duration,
}

fn unavailable(e: SqliteError) -> QueueError {
    QueueError::Unavailable(Box::new(e))
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Adds a message for `run`, visible at once (the intake calls it in its own transaction).
pub(super) fn insert(conn: &Connection, run: &RunId) -> Result<(), SqliteError> {
    conn.prepare_cached(
        "INSERT INTO queue (run_id, receive_count, visible_at, receipt) VALUES (?1, 0, ?2, NULL)",
    )?
    .execute(params![run.as_str(), now_ms()])?;
    Ok(())
}

/// Adds a message for `run` that becomes visible after `delay`, with receive count 0.
fn insert_delayed(conn: &Connection, run: &RunId, delay: Duration) -> Result<(), SqliteError> {
    conn.prepare_cached(
        "INSERT INTO queue (run_id, receive_count, visible_at, receipt) VALUES (?1, 0, ?2, NULL)",
    )?
    .execute(params![run.as_str(), now_ms().saturating_add(ms(delay))])?;
    Ok(())
}

/// Takes up to `max` visible messages, hiding each for `visibility`; also returns when the
/// next hidden one becomes visible (ms), if any.
fn take(
    conn: &Connection,
    max: usize,
    visibility: Duration,
) -> Result<(Vec<Delivery>, Option<i64>), SqliteError> {
    let now = now_ms();
    let mut select = conn.prepare_cached(
        "SELECT seq, run_id, receive_count FROM queue WHERE visible_at <= ?1
         ORDER BY visible_at, seq LIMIT ?2",
    )?;
    let ready = select
        .query_map(params![now, i64::try_from(max).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut hide = conn.prepare_cached(
        "UPDATE queue SET receipt = ?2, receive_count = ?3, visible_at = ?4 WHERE seq = ?1",
    )?;
    let mut out = Vec::with_capacity(ready.len());
    for (seq, run_id, count) in ready {
        let Ok(run_id) = run_id.parse::<RunId>() else {
            // Never written by this store; a poison message would block nothing, but drop it.
            conn.execute("DELETE FROM queue WHERE seq = ?1", [seq])?;
            continue;
        };
        let nonce: [u8; 8] = rand::random();
        let receipt = format!("{seq}-{}", hex::encode(nonce));
        hide.execute(params![seq, receipt, count + 1, now + ms(visibility)])?;
        out.push(Delivery {
            run_id,
            receipt,
            receive_count: count + 1,
        });
    }
    let next: Option<i64> = conn
        .query_row("SELECT MIN(visible_at) FROM queue", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok((out, next))
}

impl SqliteQueue {
    pub(super) fn new(db: Arc<Db>, visibility: Duration) -> Self {
        Self {
            db,
            notify: Notify::new(),
            visibility,
        }
    }

    /// Wakes a waiting receiver: a message was added.
    pub(super) fn ring(&self) {
        self.notify.notify_one();
    }

    /// Messages not yet deleted: visible plus in flight.
    pub async fn pending(&self) -> Result<u64, QueueError> {
        self.db
            .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?))
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl RunQueue for SqliteQueue {
    async fn send(&self, run: &RunId) -> Result<(), QueueError> {
        let run = run.clone();
        self.db
            .write(move |conn| insert(conn, &run))
            .await
            .map_err(unavailable)?;
        self.ring();
        Ok(())
    }

    async fn send_delayed(&self, run: &RunId, delay: Duration) -> Result<(), QueueError> {
        let run = run.clone();
        let delay = delay.min(crate::queue::MAX_SEND_DELAY);
        self.db
            .write(move |conn| insert_delayed(conn, &run, delay))
            .await
            .map_err(unavailable)?;
        // Receivers waiting now recompute when the next hidden message becomes visible.
        self.ring();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let visibility = self.visibility;
            let (out, next) = self
                .db
                .write(move |conn| take(conn, max, visibility))
                .await
                .map_err(unavailable)?;
            if !out.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(vec![]);
            }
            let until = next
                .map(|at| now + Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)))
                .map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        let deleted = self
            .db
            .write(
                move |conn| Ok(conn.execute("DELETE FROM queue WHERE receipt = ?1", [&receipt])?),
            )
            .await
            .map_err(unavailable)?;
        if deleted == 0 {
            return Err(QueueError::UnknownReceipt);
        }
        Ok(())
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        let changed = self
            .db
            .write(move |conn| {
                Ok(conn.execute(
                    "UPDATE queue SET visible_at = ?2 WHERE receipt = ?1",
                    params![receipt, now_ms() + ms(visibility)],
                )?)
            })
            .await
            .map_err(unavailable)?;
        if changed == 0 {
            return Err(QueueError::UnknownReceipt);
        }
        // A shortened timeout may make the message visible sooner than waiters planned for.
        self.notify.notify_waiters();
        Ok(())
    }
}
