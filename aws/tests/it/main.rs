//! The AWS adapters' integration tests, one binary: the port conformance suite
//! (`crewship_test_support::conformance`) on the in-memory adapters and on moto. Shared helpers
//! live in [`common`], the moto harness in `crewship-test-support`.

mod common;

mod conformance_memory;
mod conformance_moto;
