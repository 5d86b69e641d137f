//! Every machine error code the HTTP API answers with (`{"error":"<code>",…}`), listed once.
//! docs/webhooks.md, docs/monitoring.md and docs/agents.md document them; a test keeps those
//! tables and this list in step.

use std::fmt;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)+) => {
        /// A machine error code of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the list above.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it appears in the `error` field.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// No such endpoint, or no such resource in the caller's workspace.
    NotFound => "not_found",
    /// A route was called with a method it does not take (the trigger: anything but POST).
    MethodNotAllowed => "method_not_allowed",
    /// The body is over the configured limit.
    PayloadTooLarge => "payload_too_large",
    /// The connection failed while the body was read.
    BodyReadFailed => "body_read_failed",
    /// The body did not arrive within the body deadline.
    RequestTimeout => "request_timeout",
    /// A trigger without any authentication header.
    MissingCredentials => "missing_credentials",
    /// A trigger whose credentials did not verify (or are incomplete).
    InvalidCredentials => "invalid_credentials",
    /// A timestamp that is not 1–19 decimal digits.
    InvalidTimestamp => "invalid_timestamp",
    /// A timestamp further than the tolerance from the server clock.
    StaleTimestamp => "stale_timestamp",
    /// `X-Webhook-Secret` after its sunset.
    LegacySecretRetired => "legacy_secret_retired",
    /// The agent requires a timestamped scheme.
    TimestampRequired => "timestamp_required",
    /// The scheme is weaker than the agent's `min_auth_strength`.
    AuthTooWeak => "auth_too_weak",
    /// A non-empty body that is not declared as JSON.
    UnsupportedMediaType => "unsupported_media_type",
    /// A body that is not the JSON object the trigger expects.
    InvalidPayload => "invalid_payload",
    /// The agent's per-minute rate is used up.
    RateLimited => "rate_limited",
    /// The agent already has its maximum of QUEUED runs.
    QueueFull => "queue_full",
    /// A dependency (registry, store, queue) is down; retry later.
    Unavailable => "unavailable",
    /// A path segment that does not parse.
    InvalidPath => "invalid_path",
    /// A query string that does not parse.
    InvalidQuery => "invalid_query",
    /// A query parameter out of its range.
    InvalidParameter => "invalid_parameter",
    /// An agent definition that does not validate.
    InvalidAgent => "invalid_agent",
    /// The write lost to a concurrent one, or the resource is in another state.
    Conflict => "conflict",
    /// Registering an agent id that belongs to another workspace: agents never move.
    AgentInOtherWorkspace => "agent_in_other_workspace",
    /// Cancelling a run that already finished.
    RunFinished => "run_finished",
    /// The internal token is missing or wrong.
    Forbidden => "forbidden",
    /// A monitoring request without a bearer token.
    MissingToken => "missing_token",
    /// A bearer token that is not valid.
    InvalidToken => "invalid_token",
    /// `GET /ws` without a WebSocket upgrade.
    WebsocketUpgradeRequired => "websocket_upgrade_required",
    /// Replaying a run whose stored payload is gone.
    PayloadMissing => "payload_missing",
    /// A bulk replay body that does not parse or validate.
    InvalidFilter => "invalid_filter",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ErrorCode;

    /// The `error` column of a markdown table whose first column is the code, between the
    /// heading `title` and the next heading.
    fn documented(doc: &str, title: &str) -> Vec<String> {
        let start = doc.find(title).expect("the table's heading");
        let section = &doc[start + title.len()..];
        let section = &section[..section.find("\n#").unwrap_or(section.len())];
        section
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2) // the header and its separator
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`'))
            .map(|(code, _)| code.to_owned())
            .collect()
    }

    #[test]
    fn docs_list_exactly_these_codes() {
        let doc = include_str!("../../docs/webhooks.md");
        let listed = documented(doc, "### Every error code of the API");
        let known: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(
            listed, known,
            "docs/webhooks.md's table and ErrorCode disagree"
        );
        // The trigger's step table may only use known codes.
        let steps = &doc[doc
            .find("| step | status | `error` |")
            .expect("the step table")..];
        for row in steps.lines().take_while(|l| l.starts_with('|')).skip(2) {
            let code = row.split('|').nth(3).unwrap().trim();
            if code != "—" {
                let code = code.trim_matches('`');
                assert!(
                    known.iter().any(|k| k == code),
                    "unknown code {code} in the step table"
                );
            }
        }
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} listed twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }
}
