//! Command-line clients of a deployment's management surface — the local runner's or a cloud
//! one, given its URL and tokens. Tokens come from flags or the environment; webhook secrets
//! never travel on the command line (shell history would keep them): they are read from files
//! or the environment, and printed only when the service hands one out.
//!
//! - [`api`]: the HTTP client and how an error answer becomes a message.
//! - [`agents`]: `agents put|get|list|delete` (internal token).
//! - [`secret`]: `secret rotate` (the workspace's monitoring token).
//! - [`runs`]: `runs replay` (the workspace's monitoring token).

pub mod agents;
pub mod api;
pub mod runs;
pub mod secret;
