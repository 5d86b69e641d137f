//! The in-memory dedup reservations (`docs/webhooks.md`, Deduplication) behind
//! [`super::MemoryStore`]'s `DedupStore`.
//!
//! On the trigger path of every webhook, so shaped for it (docs/performance.md): keys are
//! looked up per agent, without building an owned `(agent, key)` tuple per lookup, and expired
//! reservations leave from the front of a queue in the order they were made, instead of a
//! periodic scan of every reservation under the store's lock. A key is held as the first 16
//! bytes of its SHA-256, inline: a window's worth of reservations (every webhook of a day) is
//! most of what a bounded store keeps, and a 67-character key on the heap cost three times as
//! much. 128 bits of a cryptographic digest do not collide by accident (nor by design: the
//! sender does not choose them).

use std::collections::VecDeque;

use sha2::{Digest, Sha256};

use time::OffsetDateTime;

use super::{FastMap, Reservation};
use crate::ids::{AgentId, RunId};

#[derive(Default)]
pub(super) struct Deliveries {
    agents: FastMap<AgentId, AgentDeliveries>,
}

/// One agent's reservations. They expire on that agent's next reservation: an agent that went
/// quiet keeps its last window's keys until then, which costs less memory than the runs this
/// store keeps of the same deliveries anyway.
#[derive(Default)]
struct AgentDeliveries {
    /// Keys are digests (see `FastMap`).
    held: FastMap<Key, (Holder, OffsetDateTime)>,
    /// Every reservation's key and expiry, oldest first. The window is the same for every
    /// webhook, so this is also expiry order; if it ever is not (the window was changed, or a
    /// test clock went back), an entry behind a later one only leaves later: lookups compare
    /// the expiry themselves, so that costs memory for a while, never a wrong answer.
    expiry: VecDeque<(OffsetDateTime, Key)>,
}

type Key = [u8; 16];

/// The run holding a key, inline when the id has the generated form (`run_` and 32 hex digits):
/// a heap-allocated id per reservation outlived its run and pinned the allocator's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    Packed(u128),
    Named(RunId),
}

impl Holder {
    fn of(run: &RunId) -> Self {
        run.as_str()
            .strip_prefix("run_")
            .filter(|hex| {
                hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .map_or_else(|| Self::Named(run.clone()), Self::Packed)
    }

    fn run_id(&self) -> RunId {
        match self {
            Self::Packed(n) => format!("run_{n:032x}")
                .parse()
                .expect("a generated id parses"),
            Self::Named(run) => run.clone(),
        }
    }
}

fn compact(key: &str) -> Key {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

impl Deliveries {
    pub(super) fn reserve(
        &mut self,
        agent: &AgentId,
        keys: &[String],
        run: &RunId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Reservation {
        let deliveries = self.agents.entry(agent.clone()).or_default();
        deliveries.purge(now);
        let keys: Vec<Key> = keys.iter().map(|k| compact(k)).collect();
        for key in &keys {
            let held = deliveries.held.get(key);
            if let Some((holder, _)) = held.filter(|(_, until)| *until > now) {
                return Reservation::Duplicate(holder.run_id());
            }
        }
        let holder = Holder::of(run);
        for key in keys {
            deliveries.held.insert(key, (holder.clone(), expires_at));
            deliveries.expiry.push_back((expires_at, key));
        }
        Reservation::Reserved
    }

    /// Drops `run`'s reservations, and only its own: a key taken over since stays.
    pub(super) fn release(&mut self, agent: &AgentId, keys: &[String], run: &RunId) {
        let Some(deliveries) = self.agents.get_mut(agent) else {
            return;
        };
        let run = &Holder::of(run);
        for key in keys.iter().map(|k| compact(k)) {
            if deliveries
                .held
                .get(&key)
                .is_some_and(|(holder, _)| holder == run)
            {
                deliveries.held.remove(&key);
            }
        }
    }

    /// Purges every agent's expired reservations (the retention sweep: an agent gone quiet
    /// would otherwise keep its last window's keys); returns how many keys were forgotten.
    pub(super) fn purge_all(&mut self, now: OffsetDateTime) -> u64 {
        let mut forgotten = 0;
        for deliveries in self.agents.values_mut() {
            let before = deliveries.held.len();
            deliveries.purge(now);
            forgotten += (before - deliveries.held.len()) as u64;
            deliveries.held.shrink_to_fit();
            deliveries.expiry.shrink_to_fit();
        }
        self.agents
            .retain(|_, d| !d.held.is_empty() || !d.expiry.is_empty());
        forgotten
    }

    #[cfg(test)]
    fn held(&self, agent: &AgentId) -> usize {
        self.agents.get(agent).map_or(0, |d| d.held.len())
    }
}

impl AgentDeliveries {
    /// Forgets the reservations that expired by `now`, oldest first, stopping at the first one
    /// still running.
    fn purge(&mut self, now: OffsetDateTime) {
        while let Some((until, _)) = self.expiry.front() {
            if *until > now {
                break;
            }
            let (_, key) = self.expiry.pop_front().expect("front exists");
            // The key may have been released and reserved again since: keep a live holder.
            if self.held.get(&key).is_some_and(|(_, until)| *until <= now) {
                self.held.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    #[test]
    fn a_key_is_a_duplicate_until_it_expires_then_free_and_forgotten() {
        let mut d = Deliveries::default();
        let agent: AgentId = "a".parse().unwrap();
        let (first, second) = (RunId::generate(), RunId::generate());
        let keys = vec!["k1".to_owned(), "k2".to_owned()];
        assert_eq!(
            d.reserve(&agent, &keys, &first, at(0), at(10)),
            Reservation::Reserved
        );
        // Any one key held is enough to be a duplicate.
        let other = vec!["x".to_owned(), "k2".to_owned()];
        assert_eq!(
            d.reserve(&agent, &other, &second, at(9), at(19)),
            Reservation::Duplicate(first.clone())
        );
        // A duplicate reserves nothing.
        assert_eq!(d.held(&agent), 2);
        // Another agent's keys are its own.
        let b: AgentId = "b".parse().unwrap();
        assert_eq!(
            d.reserve(&b, &keys, &second, at(9), at(19)),
            Reservation::Reserved
        );
        // At the expiry the key is free again, and the expired ones are dropped.
        assert_eq!(
            d.reserve(&agent, &other, &second, at(10), at(20)),
            Reservation::Reserved
        );
        assert_eq!(
            d.held(&agent),
            2,
            "k1 forgotten; x and k2 held by the second run"
        );
    }

    #[test]
    fn release_frees_only_the_releasing_runs_keys_and_a_retaken_key_survives_its_old_expiry() {
        let mut d = Deliveries::default();
        let agent: AgentId = "a".parse().unwrap();
        let (first, second, third) = (RunId::generate(), RunId::generate(), RunId::generate());
        let keys = vec!["k".to_owned()];
        d.reserve(&agent, &keys, &first, at(0), at(10));
        d.release(&agent, &keys, &second);
        assert_eq!(
            d.reserve(&agent, &keys, &third, at(1), at(11)),
            Reservation::Duplicate(first.clone())
        );
        d.release(&agent, &keys, &first);
        assert_eq!(
            d.reserve(&agent, &keys, &second, at(5), at(15)),
            Reservation::Reserved
        );
        // The first reservation's queue entry expires at 10; the key now belongs to the
        // second run until 15 and must stay held.
        assert_eq!(
            d.reserve(&agent, &keys, &third, at(12), at(22)),
            Reservation::Duplicate(second)
        );
        assert_eq!(
            d.reserve(&agent, &keys, &third, at(15), at(25)),
            Reservation::Reserved
        );
    }

    #[test]
    fn generated_run_ids_are_held_inline_and_read_back_the_same() {
        let run = RunId::generate();
        assert!(matches!(Holder::of(&run), Holder::Packed(_)));
        assert_eq!(Holder::of(&run).run_id(), run);
        let named: RunId = "run_not-generated".parse().unwrap();
        assert_eq!(Holder::of(&named).run_id(), named);
    }

    #[test]
    fn reservations_of_a_full_window_are_purged_without_a_scan() {
        let mut d = Deliveries::default();
        let agent: AgentId = "a".parse().unwrap();
        for i in 0..1_000 {
            let run = RunId::generate();
            d.reserve(&agent, &[format!("k{i}")], &run, at(i), at(i + 100));
        }
        assert_eq!(
            d.held(&agent),
            100,
            "only one window's reservations are kept"
        );
    }
}
