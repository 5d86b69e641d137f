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

// Outside the suite's list: it needs a store that isolates concurrent writes (moto does not).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_hold_the_agents_cap() {
    let (ports, _guard) = setup().await;
    crewship_test_support::conformance::concurrent_claims_hold_the_agents_cap(&ports).await;
}
