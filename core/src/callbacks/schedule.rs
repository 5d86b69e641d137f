//! The retry schedule: the waits between a failed attempt and the next, from
//! `[server] callback_retry_secs`. The first attempt is made at once; after the last wait's
//! attempt fails too, the callback is given up.

use std::time::Duration;

use time::OffsetDateTime;

use super::entry::{Attempt, CallbackState, OutboxEntry};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    waits: Vec<Duration>,
}

/// 30 s, 2 min, 10 min, 30 min, 1 h: six attempts over about 1 h 42 min.
pub const DEFAULT_RETRY_SECS: &str = "30,120,600,1800,3600";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a comma-separated list of whole seconds, each 1 to 86400 (at most 20)")]
pub struct InvalidSchedule(pub String);

impl Default for RetrySchedule {
    fn default() -> Self {
        DEFAULT_RETRY_SECS.parse().expect("the default parses")
    }
}

impl std::str::FromStr for RetrySchedule {
    type Err = InvalidSchedule;

    fn from_str(s: &str) -> Result<Self, InvalidSchedule> {
        let bad = || InvalidSchedule(s.to_owned());
        let waits = s
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=86_400).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if waits.len() > 20 {
            return Err(bad());
        }
        Ok(Self { waits })
    }
}

impl RetrySchedule {
    pub fn from_waits(waits: Vec<Duration>) -> Self {
        Self { waits }
    }

    /// Attempts in all: the first, then one after each wait.
    pub fn attempts(&self) -> usize {
        self.waits.len() + 1
    }

    /// The wait after the `n`th failed attempt (1-based), `None` when it was the last.
    pub fn wait_after(&self, n: usize) -> Option<Duration> {
        n.checked_sub(1).and_then(|i| self.waits.get(i)).copied()
    }

    /// `entry` after `attempt`: delivered on a `2xx`; else due again after the next wait, or
    /// given up when the schedule is spent.
    pub fn apply(&self, entry: &mut OutboxEntry, attempt: Attempt) {
        let at = attempt.at;
        let ok = attempt.succeeded();
        entry.attempts.push(attempt);
        let (state, next) = if ok {
            (CallbackState::Delivered, None)
        } else {
            match self.wait_after(entry.attempts.len()) {
                Some(wait) => (CallbackState::Pending, Some(later(at, wait))),
                None => (CallbackState::GaveUp, None),
            }
        };
        entry.state = state;
        entry.next_attempt_at = next;
    }

    /// `entry` after the guard refused its target: finished, never retried.
    pub fn refuse(entry: &mut OutboxEntry, attempt: Attempt) {
        entry.attempts.push(attempt);
        entry.state = CallbackState::Refused;
        entry.next_attempt_at = None;
    }
}

fn later(at: OffsetDateTime, wait: Duration) -> OffsetDateTime {
    at.checked_add(time::Duration::try_from(wait).unwrap_or(time::Duration::MAX))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_makes_six_attempts_over_more_than_an_hour() {
        let s = RetrySchedule::default();
        assert_eq!(s.attempts(), 6);
        let total: Duration = (1..s.attempts()).filter_map(|n| s.wait_after(n)).sum();
        assert!(total >= Duration::from_secs(3600), "{total:?}");
        assert_eq!(s.wait_after(1), Some(Duration::from_secs(30)));
        assert_eq!(s.wait_after(5), Some(Duration::from_secs(3600)));
        assert_eq!(s.wait_after(6), None);
        assert_eq!(s.wait_after(0), None);
    }

    #[test]
    fn schedules_parse_whole_seconds_only() {
        assert_eq!(
            "1, 2".parse::<RetrySchedule>().unwrap().wait_after(2),
            Some(Duration::from_secs(2))
        );
        let too_many = vec!["1"; 21].join(",");
        for bad in ["", "0", "1,,2", "1.5", "-1", "86401", &too_many] {
            assert!(bad.parse::<RetrySchedule>().is_err(), "{bad:?}");
        }
    }
}
