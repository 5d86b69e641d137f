//! The agent's event filter at intake (`docs/event-filters.md`): an authenticated delivery whose
//! event the agent's `events` do not match is recorded as a FILTERED run — finished at once,
//! never queued, never executed — so the sender sees success and the user sees what was skipped.
//!
//! A FILTERED run spends a rate-limit token (the limit guards the store, which it is written
//! to) but counts against no cap: the caps count QUEUED and RUNNING runs only.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::agent::Agent;
use crate::ingest::admission::{self, Quota, RateLimiter};
use crate::ingest::error::Rejection;
use crate::ports::Ports;
use crate::run::{Run, RunStatus};

/// Only the body's top-level `action`; every other key is skipped unread.
#[derive(Deserialize)]
struct ActionOnly<'a> {
    #[serde(default, borrow)]
    action: Option<&'a RawValue>,
}

/// The body's top-level string `action` (GitHub's `opened`, `labeled`, …), if it has one.
/// `raw` is the run's payload: JSON already checked for depth and syntax.
pub fn action_of(raw: &str) -> Option<String> {
    let action = serde_json::from_str::<ActionOnly<'_>>(raw).ok()?.action?;
    serde_json::from_str::<String>(action.get()).ok()
}

/// Whether the agent runs a delivery of `event` whose payload is `raw`. A run's event may
/// already carry the action (GitHub's `pull_request.opened`, Linear's `Issue.create`): the
/// filter is asked with the event without it, so that `pull_request` matches every pull
/// request delivery and `pull_request.opened` the opened ones.
pub fn runs(agent: &Agent, event: &str, raw: &str) -> bool {
    if agent.events.patterns().is_none() {
        return true;
    }
    let action = action_of(raw);
    let base = action
        .as_deref()
        .and_then(|a| event.strip_suffix(a)?.strip_suffix('.'))
        .unwrap_or(event);
    agent.events.matches(base, action.as_deref())
}

/// Records `run` (built QUEUED) as FILTERED instead: finished now with a zero duration, written
/// to the store only. The token is given back when the write fails.
pub async fn record(
    ports: &Ports,
    limiter: &RateLimiter,
    agent: &Agent,
    mut run: Run,
) -> Result<Quota, Rejection> {
    let token = admission::take_token(limiter, agent)?;
    let message = format!(
        "not run: the agent's `events` do not match the event {:?}",
        run.event
    );
    let now = run.created_at;
    run.finish(RunStatus::Filtered, None, Some(message), now);
    ports
        .runs
        .create(&run)
        .await
        .map_err(|e| Rejection::unavailable("run store", e))?;
    Ok(token.commit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_filter::EventFilter;

    fn agent(patterns: &[&str]) -> Agent {
        let mut agent = Agent::for_tests("s");
        agent.events =
            EventFilter::from_spec(Some(patterns.iter().map(|p| p.to_string()).collect())).unwrap();
        agent
    }

    #[test]
    fn the_action_is_the_top_level_string_only() {
        assert_eq!(
            action_of(r#"{"x":{"action":"no"},"action":"opened"}"#).as_deref(),
            Some("opened")
        );
        assert_eq!(action_of(r#"{"action":7}"#), None);
        assert_eq!(action_of(r#"{"a":1}"#), None);
        assert_eq!(action_of(r#"{"action":"a\"b"}"#).as_deref(), Some("a\"b"));
    }

    #[test]
    fn a_github_event_with_its_action_matches_either_spelling() {
        let labeled = (r#"pull_request.labeled"#, r#"{"action":"labeled"}"#);
        let opened = ("pull_request.opened", r#"{"action":"opened"}"#);
        let only_opened = agent(&["pull_request.opened"]);
        assert!(!runs(&only_opened, labeled.0, labeled.1));
        assert!(runs(&only_opened, opened.0, opened.1));
        let every_pr = agent(&["pull_request"]);
        assert!(runs(&every_pr, labeled.0, labeled.1));
        let any_pr_action = agent(&["pull_request.*"]);
        assert!(runs(&any_pr_action, labeled.0, labeled.1));
        assert!(!runs(&any_pr_action, "push", "{}"));
    }

    #[test]
    fn an_agent_without_events_runs_everything() {
        assert!(runs(&Agent::for_tests("s"), "anything", "{}"));
    }
}
