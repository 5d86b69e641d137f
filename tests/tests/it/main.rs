//! The end-to-end tests, one binary: the real `local-runner` binary driven over HTTP and
//! WebSocket, with real child processes as agents. The harness is this crate's library
//! (`e2e_tests`). The burst test is its own binary (`tests/burst.rs`): it keeps both cores busy
//! for minutes, and alone in its process it shares them with no test that has deadlines.

mod agent_env;
mod agents_cli;
mod callbacks;
mod connection_limits;
mod crash;
mod dashboard;
mod docker_isolation;
mod event_filters;
mod hostile_bodies;
mod keeper;
mod keeper_limits;
mod keeper_tls;
mod lifecycle;
mod live_runs;
mod no_orphans;
mod no_secrets_in_logs;
mod replay;
mod results;
mod sandbox_isolation;
mod senders;
mod walking_skeleton;
mod workspace_isolation;
