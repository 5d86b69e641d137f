//! An agent's event filter (`docs/event-filters.md`): which deliveries it runs. A delivery
//! whose event no pattern matches becomes a `FILTERED` run that never executes.
//!
//! A pattern is an exact name (`pull_request.opened`, `invoice.paid`) or a prefix ending in
//! `.*` (`issues.*`). A delivery is matched by its event and, when the body has a top-level
//! string `action` (GitHub, and senders like it), by `<event>.<action>` too: so
//! `pull_request` matches every pull request delivery, `pull_request.opened` only the opened
//! ones, and `pull_request.*` any pull request delivery with an action.

use serde::{Deserialize, Serialize};

use crate::agent_spec::InvalidAgent;

pub const MAX_PATTERNS: usize = 100;
pub const MAX_PATTERN_LEN: usize = 256;

/// `None`: every event runs (the default). `Some`: only the events a pattern matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventFilter(Option<Vec<String>>);

impl EventFilter {
    /// Validates the spec's `events`: 1–100 patterns of 1–256 bytes of
    /// `[A-Za-z0-9_.:/-]`, with `*` only as a trailing `.*`.
    pub fn from_spec(patterns: Option<Vec<String>>) -> Result<Self, InvalidAgent> {
        let Some(patterns) = patterns else {
            return Ok(Self(None));
        };
        let invalid = |message: String| InvalidAgent {
            field: "events",
            message,
        };
        if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
            return Err(invalid(format!(
                "must list 1 to {MAX_PATTERNS} event patterns (omit it to run every event)"
            )));
        }
        for p in &patterns {
            let name = p.strip_suffix(".*").unwrap_or(p);
            let valid = !name.is_empty()
                && p.len() <= MAX_PATTERN_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
            if !valid {
                return Err(invalid(format!(
                    "{p:?} is not an event pattern: an exact name like \"pull_request.opened\" \
                     or a prefix like \"issues.*\" ({MAX_PATTERN_LEN} bytes at most)"
                )));
            }
        }
        Ok(Self(Some(patterns)))
    }

    pub fn patterns(&self) -> Option<&[String]> {
        self.0.as_deref()
    }

    /// Whether a delivery of `event` (with the body's `action`, if any) runs.
    pub fn matches(&self, event: &str, action: Option<&str>) -> bool {
        let Some(patterns) = &self.0 else {
            return true;
        };
        let qualified = action.map(|a| format!("{event}.{a}"));
        let names = std::iter::once(event).chain(qualified.as_deref());
        let names: Vec<&str> = names.collect();
        patterns.iter().any(|p| match p.strip_suffix(".*") {
            Some(prefix) => names.iter().any(|n| {
                n.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            }),
            None => names.contains(&p.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str]) -> EventFilter {
        EventFilter::from_spec(Some(patterns.iter().map(|p| p.to_string()).collect())).unwrap()
    }

    #[test]
    fn no_filter_runs_everything() {
        assert!(EventFilter::default().matches("anything", None));
    }

    #[test]
    fn exact_names_match_the_event_or_the_event_with_its_action() {
        let f = filter(&["pull_request.opened", "push"]);
        assert!(f.matches("pull_request", Some("opened")));
        assert!(!f.matches("pull_request", Some("labeled")));
        assert!(!f.matches("pull_request", None));
        assert!(f.matches("push", None));
        assert!(f.matches("push", Some("whatever")));
        assert!(filter(&["pull_request"]).matches("pull_request", Some("labeled")));
    }

    #[test]
    fn a_trailing_wildcard_matches_below_its_prefix_only() {
        let f = filter(&["issues.*"]);
        assert!(f.matches("issues", Some("opened")));
        assert!(f.matches("issues.closed", None));
        assert!(!f.matches("issues", None));
        assert!(!f.matches("issues_extra", Some("opened")));
        assert!(filter(&["invoice.*"]).matches("invoice.paid", None));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            vec![],
            vec!["".into()],
            vec!["a*".into()],
            vec![".*".into()],
            vec!["x".repeat(300)],
        ] {
            let e = EventFilter::from_spec(Some(bad.clone())).unwrap_err();
            assert_eq!(e.field, "events", "{bad:?}");
        }
    }
}
