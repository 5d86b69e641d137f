//! Per-agent admission (`docs/webhooks.md` step 11): a token bucket holding at most the per-minute
//! limit, refilled continuously, then the cap on QUEUED runs. The bucket lives in this process:
//! with several handler instances the effective limit is per instance, which the docs state.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use crate::agent::Agent;
use crate::ids::AgentId;
use crate::ingest::error::Rejection;
use crate::run::RunStatus;
use crate::store::RunStore;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<AgentId, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The numbers behind the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Whole seconds until a token is available again (0 when one is).
    pub reset_secs: u64,
}

impl RateLimiter {
    /// Takes a token if one is there. `Err` carries the quota to report in the `429`.
    pub fn try_acquire(&self, agent: &AgentId, per_minute: u32) -> Result<Quota, Quota> {
        let now = Instant::now();
        let capacity = f64::from(per_minute.max(1));
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap();
        let bucket = buckets.entry(agent.clone()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(capacity);
        bucket.last = now;
        let ok = bucket.tokens >= 1.0;
        if ok {
            bucket.tokens -= 1.0;
        }
        let missing = (1.0 - bucket.tokens).max(0.0);
        let quota = Quota {
            limit: per_minute,
            remaining: bucket.tokens.floor() as u32,
            reset_secs: (missing / rate).ceil() as u64,
        };
        if ok { Ok(quota) } else { Err(quota) }
    }

    /// Gives back a token taken for a request that did not become a run.
    pub fn refund(&self, agent: &AgentId, per_minute: u32) {
        if let Some(bucket) = self.buckets.lock().unwrap().get_mut(agent) {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(per_minute.max(1)));
        }
    }
}

/// A token taken for one request. Dropped uncommitted (the request did not become a run), it
/// goes back to the bucket.
#[must_use = "dropping the guard refunds the token"]
pub struct QuotaGuard<'a> {
    limiter: &'a RateLimiter,
    agent: &'a AgentId,
    per_minute: u32,
    quota: Quota,
    committed: bool,
}

impl QuotaGuard<'_> {
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The request became a run: the token stays spent.
    pub fn commit(mut self) -> Quota {
        self.committed = true;
        self.quota
    }
}

impl Drop for QuotaGuard<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.limiter.refund(self.agent, self.per_minute);
        }
    }
}

/// The rate limit alone: what a FILTERED run is held to, since it is written to the store
/// but never queued (`docs/event-filters.md`).
pub fn take_token<'a>(
    limiter: &'a RateLimiter,
    agent: &'a Agent,
) -> Result<QuotaGuard<'a>, Rejection> {
    let quota = limiter
        .try_acquire(&agent.id, agent.rate_limit_per_min)
        .map_err(Rejection::RateLimited)?;
    Ok(QuotaGuard {
        limiter,
        agent: &agent.id,
        per_minute: agent.rate_limit_per_min,
        quota,
        committed: false,
    })
}

/// Step 11: the rate limit, then the cap on queued runs. A refused request takes no token.
pub async fn admit<'a>(
    limiter: &'a RateLimiter,
    runs: &dyn RunStore,
    agent: &'a Agent,
) -> Result<QuotaGuard<'a>, Rejection> {
    let guard = take_token(limiter, agent)?;
    let quota = guard.quota();
    let queued = runs
        .count_by_status(&agent.id, RunStatus::Queued)
        .await
        .map_err(|e| Rejection::unavailable("run store", e))?;
    if queued >= u64::from(agent.max_queued_runs) {
        // The cap frees up as the executor works, not as tokens refill: ask for a few seconds.
        let quota = Quota {
            reset_secs: quota.reset_secs.max(5),
            ..quota
        };
        return Err(Rejection::QueueFull {
            quota,
            queued,
            cap: agent.max_queued_runs,
        });
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn agent_id() -> AgentId {
        "a".parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_holds_the_per_minute_limit_and_refills_continuously() {
        let limiter = RateLimiter::default();
        let agent: AgentId = "a".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.try_acquire(&agent, 3).is_ok());
        }
        let refused = limiter.try_acquire(&agent, 3).unwrap_err();
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset_secs, 20);
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(limiter.try_acquire(&agent, 3).is_ok());
        assert!(limiter.try_acquire(&agent, 3).is_err());
    }

    fn guard<'a>(limiter: &'a RateLimiter, agent: &'a AgentId) -> QuotaGuard<'a> {
        QuotaGuard {
            limiter,
            agent,
            per_minute: 1,
            quota: limiter.try_acquire(agent, 1).unwrap(),
            committed: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_quota_guard_refunds_its_token() {
        let limiter = RateLimiter::default();
        let agent = agent_id();
        drop(guard(&limiter, &agent));
        // The one token of a 1/min bucket is back: the next request is admitted at once.
        let again = guard(&limiter, &agent);
        assert_eq!(again.quota().remaining, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_committed_quota_guard_keeps_its_token_spent() {
        let limiter = RateLimiter::default();
        let agent = agent_id();
        let quota = guard(&limiter, &agent).commit();
        assert_eq!(quota.remaining, 0);
        let refused = limiter.try_acquire(&agent, 1).unwrap_err();
        assert_eq!(refused.reset_secs, 60);
    }
}
