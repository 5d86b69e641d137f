//! Integration tests of the cloud-path bins, one test binary: the whole cloud path on moto
//! ([`cloud_path`]), completion callbacks from the long-running executor ([`callbacks`]), the
//! dead-letter commands ([`dlq`]), and how each bin refuses settings that cannot work
//! ([`settings`]).

// The moto harness and provisioning helpers the adapter tests use too.
use crewship_test_support::cloud as common;

mod procs;

mod callbacks;
mod cloud_path;
mod dlq;
mod settings;
