//! Shared by the AWS adapter tests: moto and provisioning, from `crewship-test-support`.

pub use crewship_test_support::cloud::*;
