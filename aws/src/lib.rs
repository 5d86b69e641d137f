//! AWS adapters of the ports and the choice of backends. The crate depends on the domain
//! (`crewship-core`) and the settings model only; the bins that join it to the handler and the
//! executor are in `crewship-cloud` and `crewship-lambda`.
//!
//! - [`config`]: [`config::Backends`] (`StoreBackend`, `QueueBackend`) taken once from the
//!   `[store]` and `[queue]` settings, and [`config::build_ports`], the one function that turns
//!   it into [`crewship_core::ports::Ports`]; AWS clients are built there, once.
//! - [`dynamodb`]: runs, dedup reservations, chat sessions, log entries and agents in DynamoDB,
//!   and the item helpers every DynamoDB adapter shares.
//! - [`payloads`]: run payloads too large for a DynamoDB item, in S3.
//! - [`seal`]: AES-256-GCM encryption of agent records at rest (`crewship_core::seal`, shared
//!   with the SQLite store).
//! - [`sqs`]: the run queue on SQS.
//! - [`callback_queue`]: the callbacks queue's notices, which `callback-lambda` drains.
//! - [`provision`]: creates the tables, queues and bucket (local development and tests; SAM
//!   does it in the cloud, and a test keeps the two in line).
//!
//! # Table and key design
//!
//! | table | key | indexes | notes |
//! |---|---|---|---|
//! | runs | `id` (S) | `by_agent` (`agent_id`, `id`) ALL; `by_agent_status` (`agent_status` = `agent#STATUS`, `id`) KEYS; `by_lease` (`leased`, `lease_expires` N) ALL | run ids are UUIDv7, so `id` sorts by creation: `by_agent` read backwards is newest first. `leased` exists only on RUNNING runs with a lease (a sparse index), so expired leases are one range query. Every update is conditional on `status` and `version`. Each agent's count of RUNNING runs is one more item, `slots#<agent>` (`dynamodb::slots`). |
//! | dedup | `pk` = `agent#key` | — | `run_id`, `expires_at` (epoch s, the TTL attribute), `expires_ms`; reservations are one `TransactWriteItems`; an expired one counts as free even before TTL deletes it. |
//! | chats | `chat_id` | — | `title`. |
//! | logs | `run_id`, `seq` (N) | `by_agent` (`agent_id`, `agent_order` = `run_id#seq(20 digits)`) ALL | per run by seq; per agent by run id (creation order) then seq. |
//! | agents | `agent_id` | `by_workspace` (`workspace_id`, `agent_id`), `by_crew` (`crew_id`, `agent_id`) | the record is sealed with AES-256-GCM (`sealed`, B) unless plaintext is explicitly allowed (`doc`, S). |
//! | callbacks | `pk` = `cb#<callback id>` or `run#<run id>` | `by_due` (`due`, `next_at` N) KEYS | the outbox: the entry, and the run's pointer to it, written in one transaction. `due` exists only on pending callbacks (a sparse index), so what is due is one range query; `expires_at` is the runs' TTL. |
//!
//! A run's payload lives in the item (`payload`, S) up to [`dynamodb::INLINE_PAYLOAD_LIMIT`],
//! beyond that in S3 under `payloads/<run id>.json` (`payload_ref`).

pub mod callback_queue;
pub mod config;
pub mod dynamodb;
pub mod payloads;
pub mod provision;
pub use crewship_core::seal;
pub mod sqs;

/// The error type the ports carry as a source.
pub(crate) fn boxed<E: std::error::Error + Send + Sync + 'static>(
    e: E,
) -> crewship_core::store::BoxError {
    Box::new(e)
}
