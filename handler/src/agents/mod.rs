//! Agents and their secrets (`docs/agents.md`): the management API behind the internal token, and
//! the webhook-secret rotation a workspace's bearer token may ask for.
//!
//! - [`manage`]: `PUT`/`GET`/`DELETE /api/v1/internal/agents/{agentId}`, `GET /api/v1/internal/agents`.
//! - [`rotate`]: `POST /api/v1/agents/{agentId}/webhook-secret/rotate`.
//! - [`source_secret`]: `PUT /api/v1/agents/{agentId}/sources/{index}/secret`, a source's new
//!   secret with the same grace period for its old one.
//! - [`workspace`]: `GET /api/v1/agents`, the caller's workspace's agents (bearer token).
//! - [`view`]: the agent as these endpoints show it — never a secret, nor an `env` value.
//!
//! Secrets leave the service in three answers only: the `201` of a creation that generated one,
//! a rotation, and the internal secret endpoint of [`crate::internal`]. No log line carries one.

pub mod manage;
pub mod rotate;
pub mod source_secret;
pub mod view;
pub mod workspace;

pub use manage::{delete_agent, get_agent, list_agents, put_agent};
pub use rotate::rotate_secret;
pub use source_secret::set_source_secret;
pub use workspace::workspace_agents;

/// How often a read-modify-write retries when the registry's compare-and-swap loses a race.
const CAS_ATTEMPTS: usize = 8;

/// Largest management request body. A real agent is a few hundred bytes; this caps the whole
/// body below what the per-field limits (`crewship_core::agent_spec`) would add up to.
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;
