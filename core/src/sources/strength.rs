//! How strongly a request was authenticated (`docs/security.md`), and the agent's minimum.

use serde::{Deserialize, Serialize};

/// Ordered weakest first, so that `>=` compares strengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStrength {
    /// A plaintext token (`gitlab`, `bearer`, the legacy `X-Webhook-Secret`): whoever saw one
    /// request can send any other, forever.
    Static,
    /// A signature over the body without a timestamp: a captured request can be replayed.
    Signed,
    /// A signature over a timestamp and the body: a captured request expires.
    Timestamped,
}

impl AuthStrength {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Signed => "signed",
            Self::Timestamped => "timestamped",
        }
    }
}

impl Default for AuthStrength {
    /// The default minimum: a static token must be allowed explicitly.
    fn default() -> Self {
        Self::Signed
    }
}
