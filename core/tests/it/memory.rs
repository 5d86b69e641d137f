//! What the in-memory store shares with SQLite beyond the port suite (which crewship-aws runs
//! over memory): the retention sweep.

use std::sync::Arc;
use std::time::Duration;

use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;

#[tokio::test]
async fn retention_sweeps_memory() {
    let memory = MemoryPorts::new(Arc::new(MemoryRegistry::default()), Duration::from_secs(30));
    crewship_test_support::retention::the_sweep_deletes_finished_runs_past_count_and_age_and_nothing_unfinished(&memory.ports, &memory.retention).await;
}
