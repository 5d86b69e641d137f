//! The port conformance suite against the in-memory adapters.

use std::sync::Arc;
use std::time::Duration;

use crewship_core::ports::{MemoryPorts, Ports};
use crewship_core::registry::MemoryRegistry;

use crewship_test_support::conformance_suite;

async fn setup() -> (Ports, ()) {
    let memory = MemoryPorts::new(Arc::new(MemoryRegistry::default()), Duration::from_secs(30));
    (memory.ports, ())
}

conformance_suite!(setup);
