//! Per-agent admission (SPEC §1 step 11): a token bucket holding at most the per-minute limit,
//! refilled continuously. The bucket lives in this process: with several handler instances the
//! effective limit is per instance, which the docs state.

use std::collections::HashMap;
use std::sync::Mutex;

use crewship_core::ids::AgentId;
use tokio::time::Instant;

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
}
