//! Integration tests of the cloud-path bins, one test binary: the whole cloud path on moto
//! ([`cloud_path`]), and how each bin refuses settings that cannot work ([`settings`]).

// The moto harness and provisioning helpers the adapter tests use.
#[path = "../../../aws/tests/common/mod.rs"]
mod common;
mod procs;

mod cloud_path;
mod settings;
