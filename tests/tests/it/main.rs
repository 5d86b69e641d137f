//! The end-to-end tests, one binary: the real `local-runner` binary driven over HTTP and
//! WebSocket, with real child processes as agents. The harness is this crate's library
//! (`e2e_tests`). The burst test is its own binary (`tests/burst.rs`): it keeps both cores busy
//! for minutes, and alone in its process it shares them with no test that has deadlines.

mod agents_cli;
mod connection_limits;
mod crash;
mod dashboard;
mod keeper;
mod keeper_limits;
mod lifecycle;
mod live_runs;
mod no_secrets_in_logs;
mod walking_skeleton;
