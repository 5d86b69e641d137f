//! Integration tests of the cloud-path bins, one test binary: the whole cloud path on moto
//! ([`cloud_path`]), and how each bin refuses settings that cannot work ([`settings`]).

// The moto harness and provisioning helpers the adapter tests use too.
use crewship_test_support::cloud as common;

mod procs;

mod cloud_path;
mod dlq;
mod settings;
