//! The executor's integration tests, one binary: real child processes under the local process
//! runtime, over in-memory ports. Shared helpers live in [`common`].

mod common;

mod concurrency;
mod defer;
mod docker_runtime;
mod keeper_cwd;
mod keeper_faults;
mod lease;
mod outcomes;
mod output;
mod retention;
mod runtime_conformance;
mod sandbox_network;
mod sweep;
