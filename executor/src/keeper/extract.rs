//! The Keeper server's extractors: the bearer token is checked first ([`Authorized`], each
//! handler's first argument, so no path or body is parsed for a caller without it), and every
//! rejection of the path or the body is the protocol's JSON error, never axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::protocol::MAX_REQUEST_BYTES;
use super::server::{ApiError, KeeperState, authorize, err};

/// A caller that presented the Keeper's bearer token.
pub(super) struct Authorized;

impl FromRequestParts<KeeperState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &KeeperState) -> Result<Self, ApiError> {
        authorize(state, &parts.headers).map(|()| Self)
    }
}

/// The one path parameter, `400 bad_request` when it cannot be decoded.
pub(super) struct KeeperPath(pub String);

impl FromRequestParts<KeeperState> for KeeperPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &KeeperState) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Self(p))
            .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
    }
}

/// The raw body under the server's body limit. Too large is `413`; a body that could not be
/// read (its deadline passed, the client left) is `400`. Both close the connection, since the
/// rest of the body is never read, and say so.
pub(super) struct RawBody(pub Bytes);

impl FromRequest<KeeperState> for RawBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &KeeperState) -> Result<Self, Response> {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        // A declared length over the limit is refused before a byte of the body is waited for.
        let (status, message) = if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body exceeds the limit of {MAX_REQUEST_BYTES} bytes"),
            )
        } else {
            match Bytes::from_request(request, state).await {
                Ok(bytes) => return Ok(Self(bytes)),
                Err(e) => (e.status(), e.body_text()),
            }
        };
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_request"
        };
        let mut response = err(status, code, message).into_response();
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        Err(response)
    }
}

/// A JSON body, `400 bad_request` naming the problem when it is not one.
pub(super) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body is not valid: {e}"),
        )
    })
}

/// Unknown paths and methods, as JSON.
pub(super) async fn not_found() -> ApiError {
    err(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

pub(super) async fn method_not_allowed() -> ApiError {
    err(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}
