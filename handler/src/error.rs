//! The one error type of the HTTP surface: every error body is
//! `{"error":"<machine code>","message":"<one human sentence>"}`, and a 5xx never shows internals.
//! The codes are `crewship_core::error_code::ErrorCode`, the one list of them.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use crewship_core::error_code::ErrorCode;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Extra response headers (`Retry-After`, `RateLimit-*`); a `Vec` keeps the error small.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl ToString) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// A dependency failed. The cause goes to the log (it is ours to fix), not to the client.
    pub fn unavailable(what: &str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, source = ?std::error::Error::source(cause), "{what} failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            format!("the {what} is temporarily unavailable; retry later"),
        )
        .with_header(axum::http::header::RETRY_AFTER, 5)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.code.as_str(), "message": self.message}));
        let mut response = (self.status, body).into_response();
        let headers: &mut HeaderMap = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
