//! Bearer tokens of the monitoring API. Kept as SHA-256 digests, so the process holds no token
//! in a form that could be logged, and compared in constant time against every entry.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use crewship_core::error_code::ErrorCode;
use crewship_core::ids::WorkspaceId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ApiToken;
use crate::error::ApiError;
use crate::state::AppState;

pub struct TokenSet {
    entries: Vec<([u8; 32], WorkspaceId)>,
}

impl TokenSet {
    pub fn new(tokens: &[ApiToken]) -> Self {
        Self {
            entries: tokens
                .iter()
                .filter(|t| !t.token.is_empty())
                .map(|t| {
                    (
                        Sha256::digest(t.token.expose()).into(),
                        t.workspace_id.clone(),
                    )
                })
                .collect(),
        }
    }

    /// The workspace the token belongs to. Every entry is compared, match or not.
    pub fn workspace_of(&self, token: &str) -> Option<WorkspaceId> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for (candidate, workspace) in &self.entries {
            if bool::from(candidate.ct_eq(&digest)) {
                found = Some(workspace.clone());
            }
        }
        found
    }
}

/// The workspace of a request's `Authorization: Bearer` token; rejects with `401` otherwise.
pub struct Caller(pub WorkspaceId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(ApiError::unauthorized(
                ErrorCode::MissingToken,
                "send `Authorization: Bearer <token>` with a monitoring token of your workspace",
            ));
        };
        bearer_workspace(state, header).map(Caller).ok_or_else(|| {
            ApiError::unauthorized(ErrorCode::InvalidToken, "the bearer token is not valid")
        })
    }
}

/// The workspace of an `Authorization` header value, if it is a valid bearer token.
pub fn bearer_workspace(state: &AppState, header: &str) -> Option<WorkspaceId> {
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state.tokens.workspace_of(token.trim())
}
