//! The connection to the Docker Engine: a unix socket only (TCP would expose root-equivalent
//! access to the network in clear), every call under a deadline, and the API version negotiated
//! down to what the engine speaks (Debian 12's engine serves 1.41; bollard asks for newer).

use std::future::Future;
use std::time::Duration;

use bollard::Docker;

use super::error::DockerError;

/// The engine's usual socket, when neither the settings nor `DOCKER_HOST` name one.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Longest any single Engine call may take; an exec's output stream is bounded by the run's
/// deadline instead.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The socket to use: the configured one, else `DOCKER_HOST`, else [`DEFAULT_HOST`].
pub fn host(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_HOST.to_owned())
}

/// A client for `host`; nothing is sent until the first call.
pub fn connect(host: &str) -> Result<Docker, DockerError> {
    if !host.starts_with("unix://") {
        return Err(DockerError::UnsupportedHost(host.to_owned()));
    }
    Docker::connect_with_unix(host, CALL_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION).map_err(
        |source| DockerError::Connect {
            host: host.to_owned(),
            source,
        },
    )
}

/// Runs one Engine call under [`CALL_TIMEOUT`], naming it in the error.
pub async fn call<T>(
    what: &'static str,
    request: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(CALL_TIMEOUT, request).await {
        Ok(result) => result.map_err(|source| DockerError::Engine { what, source }),
        Err(_) => Err(DockerError::Timeout {
            what,
            secs: CALL_TIMEOUT.as_secs(),
        }),
    }
}

/// Whether the engine answered 404 (no such container or exec).
pub fn is_not_found(e: &DockerError) -> bool {
    status(e) == Some(404)
}

/// Whether the engine answered 409 (a name already taken, a container not running).
pub fn is_conflict(e: &DockerError) -> bool {
    status(e) == Some(409)
}

fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::Engine {
            source: bollard::errors::Error::DockerResponseServerError { status_code, .. },
            ..
        } => Some(*status_code),
        _ => None,
    }
}
