//! crewship-core's integration tests, one binary: the port conformance suite
//! (`crewship_test_support::conformance`) over the SQLite adapters, and what only they have
//! (restart, sealing at rest), and the retention sweep over memory and SQLite.

mod memory;
mod sqlite;
