//! The cap on `/ws` connections that have not authenticated yet. Until its `auth` frame a
//! connection is anyone's: without a cap, upgrades alone could hold the server's memory and
//! descriptors for the authentication timeout each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A place among the unauthenticated connections, given back when dropped — when the
/// connection authenticates or ends, whichever comes first.
pub struct Place(Arc<AtomicUsize>);

impl Place {
    /// A place if fewer than `max` are taken.
    pub fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count.clone()))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_run_out_at_the_cap_and_come_back_when_dropped() {
        let count = Arc::default();
        let a = Place::take(&count, 2).unwrap();
        let _b = Place::take(&count, 2).unwrap();
        assert!(Place::take(&count, 2).is_none());
        drop(a);
        assert!(Place::take(&count, 2).is_some());
        assert_eq!(count.load(Ordering::Acquire), 1);
    }
}
