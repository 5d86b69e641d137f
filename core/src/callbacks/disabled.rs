//! [`CallbackOutbox`] where no worker could drain one (`crewship-server` and
//! `crewship-executor` on the memory store, which share nothing; docs/callbacks.md): it keeps
//! nothing, so callbacks cannot pile up in a process that never sends them.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{CallbackOutbox, OutboxEntry, OutboxError};
use crate::ids::{CallbackId, RunId};

#[derive(Debug, Default)]
pub struct DisabledOutbox;

#[async_trait]
impl CallbackOutbox for DisabledOutbox {
    async fn enqueue(&self, entry: &OutboxEntry) -> Result<bool, OutboxError> {
        tracing::warn!(run_id = %entry.run_id, "completion callbacks are not delivered by this deployment; dropped");
        Ok(false)
    }

    async fn claim_due(
        &self,
        _now: OffsetDateTime,
        _until: OffsetDateTime,
        _limit: usize,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(Vec::new())
    }

    async fn claim(
        &self,
        _id: &CallbackId,
        _now: OffsetDateTime,
        _until: OffsetDateTime,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        Ok(None)
    }

    async fn record(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        Err(OutboxError::NotFound(entry.id.clone()))
    }

    async fn get(&self, _id: &CallbackId) -> Result<Option<OutboxEntry>, OutboxError> {
        Ok(None)
    }

    async fn of_run(&self, _run: &RunId) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(Vec::new())
    }
}
