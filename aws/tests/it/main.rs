//! The AWS adapters' integration tests, one binary: the port conformance suite on the in-memory
//! adapters and on moto,. Shared helpers live in
//! [`common`], the suite in [`conformance`], the moto harness in `crewship-test-support`.

mod common;
mod conformance;

mod conformance_memory;
mod conformance_moto;
