//! Reading the body under the size limit (`docs/webhooks.md` step 3): a declared length over the
//! limit is refused before reading, a body that grows past it is refused when it does. Never
//! truncated. Both answers close the connection (the rest of the body is never read), and say
//! so; so does a body that missed its deadline ([`crate::serve::BodyTimeout`], `408`).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use crewship_core::error_code::ErrorCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;
use crate::serve::BodyTimeout;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("the request body exceeds the limit of {limit} bytes"),
    )
    .with_header(header::CONNECTION, "close")
}

fn too_slow(timeout: &BodyTimeout) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        format!(
            "the request body was not received within {} seconds",
            timeout.0.as_secs_f64()
        ),
    )
    .with_header(header::CONNECTION, "close")
}

pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        Err(e) => match BodyTimeout::find_in(e.as_ref()) {
            Some(timeout) => Err(too_slow(&timeout)),
            None => Err(ApiError::bad_request(
                ErrorCode::BodyReadFailed,
                format!("the request body could not be read: {e}"),
            )),
        },
    }
}
