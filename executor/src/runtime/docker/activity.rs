//! Which crew containers are in use and since when they are idle: what the idle reaper reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Use {
    running: usize,
    last: Instant,
}

/// Shared between the runtime, its executions and the reaper.
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<Mutex<HashMap<String, Use>>>);

impl Activity {
    /// The container was just ensured: it is not idle.
    pub fn touch(&self, container: &str) {
        let mut map = self.0.lock().expect("activity lock");
        let now = Instant::now();
        map.entry(container.to_owned())
            .and_modify(|u| u.last = now)
            .or_insert(Use {
                running: 0,
                last: now,
            });
    }

    /// Counts an exec in `container` until the guard is dropped.
    pub fn in_use(&self, container: &str) -> InUse {
        let mut map = self.0.lock().expect("activity lock");
        let now = Instant::now();
        let entry = map.entry(container.to_owned()).or_insert(Use {
            running: 0,
            last: now,
        });
        entry.running += 1;
        entry.last = now;
        InUse {
            activity: self.clone(),
            container: container.to_owned(),
        }
    }

    /// Containers with no exec running for longer than `idle`; they are forgotten, so the next
    /// ensure (which starts them again) begins their count anew.
    pub fn take_idle(&self, idle: Duration) -> Vec<String> {
        let mut map = self.0.lock().expect("activity lock");
        let idle_ones: Vec<String> = map
            .iter()
            .filter(|(_, u)| u.running == 0 && u.last.elapsed() >= idle)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &idle_ones {
            map.remove(name);
        }
        idle_ones
    }
}

/// One running exec; dropping it marks the container idle from now.
#[derive(Debug)]
pub struct InUse {
    activity: Activity,
    container: String,
}

impl Drop for InUse {
    fn drop(&mut self) {
        let mut map = self.activity.0.lock().expect("activity lock");
        if let Some(u) = map.get_mut(&self.container) {
            u.running = u.running.saturating_sub(1);
            u.last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_with_a_running_exec_is_never_idle() {
        let a = Activity::default();
        a.touch("idle");
        let busy = a.in_use("busy");
        assert_eq!(a.take_idle(Duration::ZERO), ["idle"]);
        assert!(a.take_idle(Duration::ZERO).is_empty());
        drop(busy);
        assert_eq!(a.take_idle(Duration::ZERO), ["busy"]);
        a.touch("fresh");
        assert!(a.take_idle(Duration::from_secs(60)).is_empty());
    }
}
