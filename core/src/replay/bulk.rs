//! Bulk replay (`docs/replay.md`, Bulk): `POST /api/v1/agents/{agentId}/runs/replay` replays the
//! agent's runs that match a filter, at most [`MAX_PER_CALL`] per call.
//!
//! Runs are taken newest first, the order the stores list them in, so that each call costs a
//! bounded number of store pages and a `cursor` continues exactly where a call stopped: after
//! the last run it examined. A call stops early — answering what it did, `more` and the cursor
//! — when the 101st match comes up, when it has examined [`MAX_SCANNED`] runs, or when a
//! replay is refused (rate limit, queued cap); only a refusal of its first replay is the
//! call's own answer, the trigger's `429`.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ReplayError, Replayed, replay};
use crate::agent::Agent;
use crate::event_filter::EventFilter;
use crate::ids::RunId;
use crate::ingest::{RateLimiter, Rejection};
use crate::ports::Ports;
use crate::run::RunStatus;
use crate::store::{RunFilter, StoreError};

/// The most runs one call replays.
pub const MAX_PER_CALL: usize = 100;
/// The most runs one call examines (matching or not) before it answers `more`.
pub const MAX_SCANNED: usize = 5000;
const PAGE: usize = 100;
const MAX_CURSOR_LEN: usize = 512;

/// The request body as sent: every field optional, no others allowed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    pub status: Option<String>,
    pub event: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
}

/// A filter field that does not validate, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct InvalidFilter {
    pub field: &'static str,
    pub message: String,
}

/// Which runs to replay: `since` ≤ `created_at` < `until`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub status: Option<RunStatus>,
    pub event: Option<EventFilter>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub cursor: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidFilter {
    InvalidFilter {
        field,
        message: message.into(),
    }
}

fn instant(
    field: &'static str,
    value: Option<String>,
) -> Result<Option<OffsetDateTime>, InvalidFilter> {
    value
        .map(|v| {
            OffsetDateTime::parse(&v, &Rfc3339).map_err(|_| {
                invalid(
                    field,
                    format!("must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got {v:?}"),
                )
            })
        })
        .transpose()
}

impl FilterSpec {
    pub fn validate(self) -> Result<Selection, InvalidFilter> {
        let status = self
            .status
            .map(|s| {
                RunStatus::parse(&s).ok_or_else(|| {
                    invalid(
                        "status",
                        "must be one of QUEUED, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, FILTERED",
                    )
                })
            })
            .transpose()?;
        let event = self
            .event
            .map(|e| EventFilter::from_spec(Some(vec![e])).map_err(|e| invalid("event", e.message)))
            .transpose()?;
        let since = instant("since", self.since)?;
        let until = instant("until", self.until)?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(invalid("until", "must be later than `since`"));
        }
        if let Some(cursor) = &self.cursor
            && (cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN)
        {
            return Err(invalid(
                "cursor",
                "must be the `cursor` of an earlier answer",
            ));
        }
        Ok(Selection {
            status,
            event,
            since,
            until,
            cursor: self.cursor,
        })
    }
}

/// What one call did.
#[derive(Debug, Default)]
pub struct BulkOutcome {
    /// The replays, in the order made (newest original first).
    pub replayed: Vec<Replayed>,
    /// Matching runs whose payload is gone: not replayable, passed over.
    pub skipped: Vec<RunId>,
    /// More runs may match: call again with `cursor`.
    pub more: bool,
    pub cursor: Option<String>,
    /// The refusal that stopped the call after some replays.
    pub stopped: Option<Rejection>,
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("`cursor` is not the cursor of an earlier answer")]
    BadCursor,
    /// The first replay was refused: the trigger's own answer.
    #[error(transparent)]
    Refused(Rejection),
}

/// Replays `agent`'s runs that `selection` matches (see the module's docs for the order and
/// where a call stops).
pub async fn replay_matching(
    ports: &Ports,
    limiter: &RateLimiter,
    agent: &Agent,
    selection: &Selection,
) -> Result<BulkOutcome, BulkError> {
    let store = |e: StoreError| match e {
        StoreError::BadCursor => BulkError::BadCursor,
        e => BulkError::Refused(Rejection::unavailable("run store", e)),
    };
    let filter = RunFilter {
        trigger: None,
        status: selection.status,
    };
    let mut out = BulkOutcome::default();
    // Where the next call starts: after the last run this one finished with.
    let mut resume = selection.cursor.clone();
    let mut scanned = 0;
    loop {
        let page = ports
            .runs
            .list_by_agent(&agent.id, &filter, PAGE, resume.as_deref())
            .await
            .map_err(store)?;
        for run in &page.items {
            if selection.since.is_some_and(|since| run.created_at < since) {
                // Listed newest first: every run after this one is older still.
                return Ok(out);
            }
            let wanted = run.workspace_id == agent.workspace_id
                && selection.until.is_none_or(|until| run.created_at < until)
                && selection
                    .event
                    .as_ref()
                    .is_none_or(|f| f.matches(&run.event, None));
            if wanted && out.replayed.len() == MAX_PER_CALL {
                out.more = true;
                out.cursor = resume;
                return Ok(out);
            }
            if wanted {
                match replay(ports, limiter, agent, run).await {
                    Ok(replayed) => out.replayed.push(replayed),
                    Err(ReplayError::PayloadMissing) => out.skipped.push(run.id.clone()),
                    Err(ReplayError::Refused(rejection)) if out.replayed.is_empty() => {
                        return Err(BulkError::Refused(rejection));
                    }
                    Err(ReplayError::Refused(rejection)) => {
                        out.more = true;
                        out.cursor = resume;
                        out.stopped = Some(rejection);
                        return Ok(out);
                    }
                    Err(ReplayError::NotFound | ReplayError::AgentGone) => {}
                }
            }
            resume = Some(ports.runs.cursor_after(&run.id));
        }
        scanned += page.items.len();
        match page.next {
            None => return Ok(out),
            Some(_) if scanned >= MAX_SCANNED => {
                out.more = true;
                out.cursor = resume;
                return Ok(out);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<Selection, InvalidFilter> {
        serde_json::from_str::<FilterSpec>(json).unwrap().validate()
    }

    #[test]
    fn every_field_is_optional() {
        let s = spec("{}").unwrap();
        assert!(s.status.is_none() && s.event.is_none() && s.since.is_none());
    }

    #[test]
    fn a_field_that_does_not_validate_is_named() {
        for (json, field) in [
            (r#"{"status":"failed"}"#, "status"),
            (r#"{"event":"a*"}"#, "event"),
            (r#"{"since":"yesterday"}"#, "since"),
            (r#"{"until":"2026-13-01T00:00:00Z"}"#, "until"),
            (
                r#"{"since":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"}"#,
                "until",
            ),
            (r#"{"cursor":""}"#, "cursor"),
        ] {
            assert_eq!(spec(json).unwrap_err().field, field, "{json}");
        }
    }

    #[test]
    fn a_valid_filter_reads_as_given() {
        let s = spec(
            r#"{"status":"FAILED","event":"pull_request.*","since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00+01:00"}"#,
        )
        .unwrap();
        assert_eq!(s.status, Some(RunStatus::Failed));
        assert!(s.event.unwrap().matches("pull_request.opened", None));
        assert_eq!(
            s.until.unwrap().unix_timestamp() - s.since.unwrap().unix_timestamp(),
            82_800
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<FilterSpec>(r#"{"statuses":"FAILED"}"#).is_err());
    }
}
