//! [`RunIntake`] in one transaction: the run and its queue message commit together, and the
//! answer comes after the commit, so a `202` never names a run a crash could lose or leave
//! without its message.

use std::sync::Arc;

use async_trait::async_trait;

use super::cache::Cache;
use super::db::Db;
use super::{SqliteQueue, queue, runs, unavailable};
use crate::intake::{IntakeError, RunIntake};
use crate::run::Run;

pub(super) struct SqliteIntake {
    db: Arc<Db>,
    cache: Arc<Cache>,
    queue: Arc<SqliteQueue>,
}

impl SqliteIntake {
    pub(super) fn new(db: Arc<Db>, cache: Arc<Cache>, queue: Arc<SqliteQueue>) -> Self {
        Self { db, cache, queue }
    }
}

#[async_trait]
impl RunIntake for SqliteIntake {
    async fn record(&self, run: &Run) -> Result<(), IntakeError> {
        let (run, cache) = (run.clone(), self.cache.clone());
        let doc = runs::doc(&run).map_err(|e| IntakeError::Store(unavailable(e)))?;
        self.db
            .write(move |conn| {
                if let Err(e) = runs::insert(conn, &cache, &run, &doc)? {
                    return Ok(Err(e));
                }
                queue::insert(conn, &run.id)?;
                Ok(Ok(()))
            })
            .await
            .map_err(|e| IntakeError::Store(unavailable(e)))?
            .map_err(IntakeError::Store)?;
        self.queue.ring();
        Ok(())
    }
}
