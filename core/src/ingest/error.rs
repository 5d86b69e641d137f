//! Why a trigger request was refused, with what the transport needs to answer it: the class of
//! status, the machine code, the sentence, the quota of a `429`, and whether the deprecated
//! plaintext secret had authenticated the request before it failed.

use crate::error_code::ErrorCode;
use crate::ingest::admission::Quota;
use crate::run::AuthScheme;
use crate::sources::AuthStrength;
use crate::store::BoxError;

/// The kind of answer, which the transport maps to its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `400`
    BadRequest,
    /// `401`
    Unauthorized,
    /// `415`
    UnsupportedMediaType,
    /// `429`
    TooManyRequests,
    /// `503`
    Unavailable,
}

/// A refused trigger request, in the order of the steps of `docs/webhooks.md`'s Responses table.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error(
        "no credentials: send X-Signature with the hex HMAC-SHA256 of the raw body, keyed by the \
         agent's webhook secret"
    )]
    MissingCredentials,
    #[error(
        "Standard Webhooks signatures need all three headers: webhook-id, webhook-timestamp and \
         webhook-signature"
    )]
    IncompleteStandardWebhooks,
    #[error("the timestamp must be Unix time in whole seconds: 1 to 19 decimal digits")]
    InvalidTimestamp,
    #[error(
        "the timestamp is more than {tolerance_secs}s away from the server clock; sign with the \
         current time"
    )]
    StaleTimestamp { tolerance_secs: u64 },
    #[error(
        "the X-Webhook-Secret header was retired; send X-Signature with the hex HMAC-SHA256 of \
         the raw body, keyed by the webhook secret, instead"
    )]
    LegacySecretRetired,
    /// The same answer for every authentication failure: what helps a sender fix a real mistake
    /// (the scheme and the bytes the server saw) and nothing derived from any secret.
    #[error(
        "{} did not verify for this agent. The server received a body of {body_len} bytes with \
         SHA-256 {body_sha256}; sign exactly these bytes (re-serialised JSON does not match)",
        .scheme.header()
    )]
    InvalidCredentials {
        scheme: AuthScheme,
        body_len: usize,
        body_sha256: String,
    },
    #[error(
        "this agent requires timestamped signatures: send X-Timestamp (Unix seconds) and \
         X-Signature with the hex HMAC-SHA256 of \"<timestamp>.<body>\""
    )]
    TimestampRequired,
    #[error(
        "this agent requires {} authentication at least; {} is {}",
        .required.as_str(), .scheme.header(), .scheme.strength().as_str()
    )]
    AuthTooWeak {
        scheme: AuthScheme,
        required: AuthStrength,
    },
    #[error("the body must be JSON: send Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    InvalidPayload(String),
    #[error(
        "this agent accepts at most {} webhooks per minute; retry after {}s",
        .0.limit, .0.reset_secs.max(1)
    )]
    RateLimited(Quota),
    #[error("this agent already has {queued} queued runs (the cap is {cap}); retry later")]
    QueueFull { quota: Quota, queued: u64, cap: u32 },
    /// A dependency failed: the cause is ours to fix, for the log, never for the client.
    #[error("the {what} is temporarily unavailable; retry later")]
    Unavailable {
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

impl Rejection {
    pub(crate) fn unavailable(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what,
            source: Box::new(source),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::MissingCredentials
            | Self::IncompleteStandardWebhooks
            | Self::LegacySecretRetired
            | Self::AuthTooWeak { .. }
            | Self::InvalidCredentials { .. } => ErrorClass::Unauthorized,
            Self::InvalidTimestamp
            | Self::StaleTimestamp { .. }
            | Self::TimestampRequired
            | Self::InvalidPayload(_) => ErrorClass::BadRequest,
            Self::UnsupportedMediaType => ErrorClass::UnsupportedMediaType,
            Self::RateLimited(_) | Self::QueueFull { .. } => ErrorClass::TooManyRequests,
            Self::Unavailable { .. } => ErrorClass::Unavailable,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingCredentials => ErrorCode::MissingCredentials,
            Self::IncompleteStandardWebhooks | Self::InvalidCredentials { .. } => {
                ErrorCode::InvalidCredentials
            }
            Self::InvalidTimestamp => ErrorCode::InvalidTimestamp,
            Self::StaleTimestamp { .. } => ErrorCode::StaleTimestamp,
            Self::LegacySecretRetired => ErrorCode::LegacySecretRetired,
            Self::TimestampRequired => ErrorCode::TimestampRequired,
            Self::AuthTooWeak { .. } => ErrorCode::AuthTooWeak,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::InvalidPayload(_) => ErrorCode::InvalidPayload,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::QueueFull { .. } => ErrorCode::QueueFull,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
        }
    }

    /// The numbers behind `Retry-After` and `RateLimit-*` on a `429`.
    pub fn quota(&self) -> Option<Quota> {
        match self {
            Self::RateLimited(quota) | Self::QueueFull { quota, .. } => Some(*quota),
            _ => None,
        }
    }
}

/// A refused request, and whether `X-Webhook-Secret` had authenticated it (its answer then
/// carries the deprecation headers, as every answer after that authentication does).
#[derive(Debug, thiserror::Error)]
#[error("{rejection}")]
pub struct IngestError {
    #[source]
    pub rejection: Rejection,
    pub legacy_secret: bool,
}

impl From<Rejection> for IngestError {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            legacy_secret: false,
        }
    }
}
