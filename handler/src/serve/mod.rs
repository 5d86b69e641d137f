//! Serving a router on a TCP listener, with the limits that keep clients without credentials
//! from exhausting the server (issue 16): a header-read deadline, a whole-body deadline, an idle
//! keep-alive timeout, a cap on the request head's size and a cap on open connections kept below
//! the descriptor limit. Every server of the project (the local runner, the AWS server bin, the
//! Keeper) is served by [`serve`]; [`serve_tls`] is the same behind TLS (the Keeper's
//! `--tls-cert`), the handshake under the header-read deadline.
//!
//! - [`limits`]: [`ConnectionLimits`], their defaults and the descriptor limit.
//! - [`connection`]: one connection: hyper's HTTP/1 with the deadlines, the idle watch.
//! - [`body`]: the request body's deadline and the response body that marks a request finished.

pub mod body;
mod connection;
pub mod limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::BodyTimeout;
pub use limits::{ConnectionLimits, raise_open_files_limit};
pub use tokio_rustls::TlsAcceptor;

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Taking the listener lets callers (and tests) bind port 0.
///
/// Past the connection cap, new connections wait in the listen backlog (nothing is accepted
/// until a connection closes); connections already open keep working. Idle and slow ones are
/// closed by their deadlines, so the wait is bounded by the header-read timeout.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, limits, None, shutdown).await
}

/// [`serve`] with every connection behind TLS. A client gets the header-read timeout for the
/// handshake too, so a silent one holds a connection no longer than on plain HTTP.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, limits, Some(tls), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = limits.connection_cap(raise_open_files_limit());
    tracing::info!(
        max_connections = cap,
        header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
        body_timeout_ms = limits.body_timeout.as_millis() as u64,
        idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
        max_header_bytes = limits.max_header_bytes,
        "serving"
    );
    let permits = Arc::new(Semaphore::new(cap));
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a moment
                    // rather than spin; the connections already open keep being served.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => connection::serve_connection(stream, router, &limits, stop).await,
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, tls.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            connection::serve_connection(stream, router, &limits, stop).await;
                        }
                        // A failed or too slow handshake is the client's; nothing to answer.
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}
