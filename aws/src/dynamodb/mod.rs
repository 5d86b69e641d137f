//! The DynamoDB adapters (table and key design: see the crate docs).
//!
//! - [`runs`] holds [`DynamoRunStore`]; [`item`] maps a run to an item and back; [`cursor`] is
//!   the opaque listing cursor; `slots` is each agent's count of RUNNING runs, which the claim
//!   holds to the agent's cap.
//! - [`dedup`] holds [`DynamoDedupStore`], delivery reservations.
//! - [`chats`] holds [`DynamoChatStore`].
//! - [`logs`] holds [`DynamoLogs`], log entries.
//! - [`agents`] holds [`DynamoRegistry`], agents sealed at rest.
//! - [`callbacks`] holds [`DynamoOutbox`], the completion callbacks' outbox.
//! - here: the table names and the item helpers ([`s`], [`n`], [`get_s`], [`get_n`],
//!   [`get_bool`]) every DynamoDB adapter uses, the Lambda crate's connections table included.

pub mod agents;
pub mod callbacks;
pub mod chats;
pub mod cursor;
pub mod dedup;
pub mod item;
pub mod logs;
mod run_write;
pub mod runs;
mod slots;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub use agents::DynamoRegistry;
pub use callbacks::DynamoOutbox;
pub use chats::DynamoChatStore;
pub use dedup::DynamoDedupStore;
pub use item::INLINE_PAYLOAD_LIMIT;
pub use logs::DynamoLogs;
pub use runs::DynamoRunStore;

pub type Item = HashMap<String, AttributeValue>;

/// The names of the six tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub runs: String,
    pub dedup: String,
    pub chats: String,
    pub logs: String,
    pub agents: String,
    pub callbacks: String,
}

impl Tables {
    /// `<prefix>-runs`, `<prefix>-dedup`, …
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            runs: format!("{prefix}-runs"),
            dedup: format!("{prefix}-dedup"),
            chats: format!("{prefix}-chats"),
            logs: format!("{prefix}-logs"),
            agents: format!("{prefix}-agents"),
            callbacks: format!("{prefix}-callbacks"),
        }
    }
}

/// An item did not have the shape this adapter writes.
#[derive(Debug, thiserror::Error)]
#[error("malformed item: {0}")]
pub struct MalformedItem(pub String);

/// A string attribute. These item helpers are public so the Lambda crate's connection table uses
/// them too, from this one place.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, MalformedItem> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| MalformedItem(format!("missing string attribute {name}")))
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, MalformedItem> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| MalformedItem(format!("missing number attribute {name}")))
}

/// A boolean attribute; absent or of another type reads as `false`.
pub fn get_bool(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

pub(crate) fn epoch_ms(t: time::OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}
