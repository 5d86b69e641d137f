//! Identifier newtypes. Ids that arrive in URLs are validated once, here, so that every later
//! layer (store keys, log lines, channel names) can rely on a small, safe alphabet.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Longest id accepted from the outside world.
pub const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {0:?}: use 1-128 characters from [A-Za-z0-9_-]")]
pub struct InvalidId(pub String);

fn valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

// Shared, immutable text: an id is copied into every run, index, queue message and dedup
// reservation, and a clone is then a reference count, not an allocation (docs/performance.md).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                if valid(s) { Ok(Self(Arc::from(s))) } else { Err(InvalidId(s.to_owned())) }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                if valid(&s) { Ok(Self(Arc::from(s))) } else { Err(InvalidId(s)) }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }
    };
}

id_type!(
    /// An agent: the unit a webhook triggers.
    AgentId
);
id_type!(
    /// A crew: a group of agents sharing one container runtime.
    CrewId
);
id_type!(
    /// A workspace: the tenant boundary for every read.
    WorkspaceId
);
id_type!(
    /// A run: `run_` followed by a time-sortable UUIDv7 in hex.
    RunId
);

id_type!(
    /// A completion callback: `msg_` and a UUIDv7 in hex, the Standard Webhooks `webhook-id`
    /// (the same on every retry of one callback).
    CallbackId
);

impl CallbackId {
    pub fn generate() -> Self {
        Self(Arc::from(format!("msg_{}", uuid::Uuid::now_v7().simple())))
    }
}

impl RunId {
    /// A fresh id. UUIDv7 ids sort by creation time, which the newest-first listings rely on.
    pub fn generate() -> Self {
        Self(Arc::from(format!("run_{}", uuid::Uuid::now_v7().simple())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_safe_alphabet_only() {
        assert!("agent_1-A".parse::<AgentId>().is_ok());
        for bad in ["", "a b", "a/b", "ä", "a.b", &"x".repeat(129)] {
            assert!(bad.parse::<AgentId>().is_err(), "{bad:?} accepted");
        }
        assert!("x".repeat(128).parse::<CrewId>().is_ok());
    }

    #[test]
    fn run_ids_are_prefixed_unique_and_sortable() {
        let ids: Vec<RunId> = (0..1000).map(|_| RunId::generate()).collect();
        assert!(ids.iter().all(|id| id.as_str().starts_with("run_")));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, ids,
            "ids must be strictly increasing in creation order"
        );
    }
}
