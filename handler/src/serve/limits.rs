//! The connection limits and their defaults (README "Limits and timeouts"), and the descriptor
//! limit the connection cap is kept under.

use std::time::Duration;

/// Limits every server applies to its connections. The defaults are the documented ones; the
/// bins fill these from their configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's line and headers, from its first byte
    /// (or, on a kept-alive connection, from the end of the previous response). Past it the
    /// connection is closed.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a whole request body, counted from the end of its
    /// headers. Past it the request is answered `408` and the connection closed.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request. The header-read
    /// deadline runs during that wait too, so the shorter of the two applies.
    pub idle_timeout: Duration,
    /// Largest request line plus headers, in bytes; larger is `431` (hyper needs ≥ 8192).
    pub max_header_bytes: usize,
    /// Open connections at most; lowered at start to stay below the descriptor limit.
    pub max_connections: usize,
}

/// Hyper's smallest read buffer: a header limit below it cannot be enforced.
pub const MIN_HEADER_BYTES: usize = 8192;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_header_bytes: 32 * 1024,
            max_connections: 10_000,
        }
    }
}

impl ConnectionLimits {
    /// What cannot work, by field name, for the bins' configuration errors.
    /// The `[server]` section's limits, validated; an error names the key.
    pub fn from_settings(
        server: &crewship_settings::model::Server,
    ) -> Result<Self, crewship_settings::SettingsError> {
        let secs = Duration::from_secs;
        let limits = Self {
            header_read_timeout: secs(server.header_read_timeout_secs),
            body_timeout: secs(server.body_timeout_secs),
            idle_timeout: secs(server.idle_timeout_secs),
            max_header_bytes: server.max_header_bytes,
            max_connections: server.max_connections,
        };
        limits.validate().map_err(|(key, message)| {
            crewship_settings::SettingsError::new(format!("server.{key}"), message)
        })?;
        Ok(limits)
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let zero = |d: Duration| d.is_zero();
        if zero(self.header_read_timeout) {
            return Err(("header_read_timeout_secs", "must be at least 1".into()));
        }
        if zero(self.body_timeout) {
            return Err(("body_timeout_secs", "must be at least 1".into()));
        }
        if zero(self.idle_timeout) {
            return Err(("idle_timeout_secs", "must be at least 1".into()));
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err((
                "max_header_bytes",
                format!("must be at least {MIN_HEADER_BYTES}"),
            ));
        }
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1".into()));
        }
        Ok(())
    }

    /// The connection cap under a soft descriptor limit: room is left for the listener, log
    /// files, the store and the agents' pipes (an eighth of the limit, at least 64).
    pub fn connection_cap(&self, open_files_limit: Option<u64>) -> usize {
        let Some(limit) = open_files_limit else {
            return self.max_connections;
        };
        let room = limit.saturating_sub((limit / 8).max(64)).max(1);
        self.max_connections
            .min(usize::try_from(room).unwrap_or(usize::MAX))
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force
/// (`None` where it cannot be read). A process that cannot raise it keeps the old one.
pub fn raise_open_files_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => return Some(hard),
            Err(e) => {
                tracing::warn!(error = %e, soft, hard, "could not raise the open-files limit")
            }
        }
    }
    Some(soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limits = ConnectionLimits::default();
        assert_eq!(limits.connection_cap(None), 10_000);
        assert_eq!(limits.connection_cap(Some(1024)), 1024 - 128);
        assert_eq!(limits.connection_cap(Some(256)), 256 - 64);
        assert_eq!(limits.connection_cap(Some(1_048_576)), 10_000);
        assert_eq!(limits.connection_cap(Some(10)), 1);
    }

    #[test]
    fn unworkable_limits_name_their_key() {
        let small = ConnectionLimits {
            max_header_bytes: 1024,
            ..ConnectionLimits::default()
        };
        assert_eq!(small.validate().unwrap_err().0, "max_header_bytes");
        let none = ConnectionLimits {
            max_connections: 0,
            ..ConnectionLimits::default()
        };
        assert_eq!(none.validate().unwrap_err().0, "max_connections");
        assert!(ConnectionLimits::default().validate().is_ok());
    }
}
