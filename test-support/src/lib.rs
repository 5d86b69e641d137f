//! What the crates' integration tests share, so each crate's `tests/it/` binary stays small and
//! no test reaches into another crate's `tests/` by path.
//!
//! - [`agent`]: [`AgentBuilder`](agent::AgentBuilder), an agent record with test defaults.
//! - [`docker`]: the Docker Engine's test image (built offline) and self-cleaning instances.
//! - [`conformance`]: the port conformance suite every adapter set runs.
//! - [`retention`]: the retention sweep's behaviour, run over memory and SQLite.
//! - [`fixture`]: the secret and tokens of the shared fixture.
//! - [`procs`]: processes found by an environment marker; whether bubblewrap is there.
//! - [`run`]: [`queued_run`](run::queued_run), a QUEUED run as the trigger path makes it.
//! - [`ws_conformance`]: the WebSocket protocol's conformance suite, run by every transport.
//! - [`moto`] (feature `moto`): a pinned moto server for the AWS adapters' tests.
//! - [`cloud`] (feature `aws`): fresh, uniquely named tables, queues and bucket on that server.
//! - [`venv`] (feature `moto`): pinned Python tools (moto, cargo-lambda) in project-local
//!   virtual environments, installed once on first use.
//! - [`receiver`] (feature `receiver`): a callback receiver on loopback that records what it
//!   gets, answering a script of statuses.
//! - [`template`]: `template.yaml`'s functions' environments, as the drift test and the
//!   Lambda emulator test read them.

pub mod agent;
#[cfg(feature = "aws")]
pub mod cloud;
pub mod conformance;
pub mod docker;
pub mod fixture;
#[cfg(feature = "moto")]
pub mod moto;
pub mod procs;
#[cfg(feature = "receiver")]
pub mod receiver;
pub mod retention;
pub mod run;
pub mod template;
#[cfg(feature = "moto")]
pub mod venv;
pub mod ws_conformance;

pub use agent::AgentBuilder;
pub use run::queued_run;
