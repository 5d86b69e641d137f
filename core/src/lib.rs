//! The webhook service's domain: what a run, an agent and the agent's message are, how a webhook
//! is authenticated, and the ports the handler and executor talk through, each with its
//! in-memory adapter.
//!
//! - [`ids`], [`secret`], [`clock`]: small types used everywhere; [`api_token`]: a monitoring
//!   token bound to its workspace; [`seal`]: AES-256-GCM sealing of records at rest.
//! - [`agent`], [`run`], [`log`]: the records; [`agent_spec`]: an agent as an operator writes it,
//!   and its validation; [`isolation`]: the confinement an agent asks for; [`event_filter`]:
//!   which deliveries it runs; [`callback`]: where its finished runs are reported.
//! - [`auth`], [`signature`]: webhook authentication on raw bytes; [`signer`]: the same schemes
//!   from the sender's side; [`sources`]: the other senders an agent takes requests from.
//! - [`payload`], [`message`]: the body as `docs/webhooks.md` (The payload) reads it and the
//!   message the agent gets; [`json_depth`]: the nesting limit checked before any parsing.
//! - [`ingest`]: the trigger use case ([`ingest::accept`]), with the rate limiter and the
//!   guards that give back a dedup reservation and a token when a request fails.
//! - [`error_code`]: every machine error code of the HTTP API, listed once.
//! - Ports: [`store`] (runs, dedup, chats), [`queue`], [`registry`], [`logs`], [`broadcast`],
//!   [`runtime`], [`intake`] (a new run and its queue message together); [`ports::Ports`]
//!   bundles them. [`retention`]: what finished history is kept. [`callbacks`]: the outbox of
//!   completion callbacks, and [`callbacks::announce::finished`], which every run's end goes through.
//! - [`replay`]: a new run from an earlier one's payload, one or in bulk (`docs/replay.md`).
//! - `sqlite` (feature `sqlite`): every store port and the queue in one SQLite file.

pub mod agent;
pub mod agent_spec;
pub mod api_token;
pub mod auth;
pub mod broadcast;
pub mod callback;
pub mod callbacks;
pub mod clock;
pub mod error_code;
pub mod event_filter;
pub mod ids;
pub mod ingest;
pub mod intake;
pub mod isolation;
pub mod json_depth;
pub mod log;
pub mod logs;
pub mod message;
pub mod payload;
pub mod ports;
pub mod queue;
pub mod registry;
pub mod replay;
pub mod retention;
pub mod run;
pub mod runtime;
pub mod seal;
pub mod secret;
pub mod signature;
pub mod signer;
pub mod sources;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod store;
