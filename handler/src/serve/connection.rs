//! One connection: hyper's HTTP/1 server with the header-read deadline and the head size cap,
//! every request body under its deadline, and a watch that closes a kept-alive connection
//! left idle between requests.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::ConnectionLimits;
use super::body::{DeadlineBody, GuardedBody};

/// Requests started and requests in flight on one connection.
#[derive(Debug, Clone, Copy, Default)]
struct Activity {
    started: u64,
    in_flight: usize,
}

/// Marks one request in flight until dropped with its response body.
struct InFlight(Arc<watch::Sender<Activity>>);

impl InFlight {
    fn start(activity: &Arc<watch::Sender<Activity>>) -> Self {
        activity.send_modify(|a| {
            a.started += 1;
            a.in_flight += 1;
        });
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|a| a.in_flight -= 1);
    }
}

/// Serves one connection: plain TCP, or TLS once the handshake is done.
pub(super) async fn serve_connection<S>(
    stream: S,
    router: Router,
    limits: &ConnectionLimits,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(watch::Sender::new(Activity::default()));
    let idle = idle_watch(activity.subscribe(), limits.idle_timeout);
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        let in_flight = InFlight::start(&activity);
        async move {
            let request = request.map(|body| {
                if body.is_end_stream() {
                    Body::new(body)
                } else {
                    Body::new(DeadlineBody::new(body, body_timeout))
                }
            });
            let response: Response = router.oneshot(request).await?;
            Ok::<_, Infallible>(response.map(|body| Body::new(GuardedBody::new(body, in_flight))))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::pin!(idle);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                // Deadlines, resets and malformed requests end here; none is ours to fix.
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = &mut idle, if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = stop.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Completes once the connection has served a request and then stayed without one for
/// `timeout`. (Before the first request, hyper's header-read deadline is the only clock.)
async fn idle_watch(mut activity: watch::Receiver<Activity>, timeout: std::time::Duration) {
    loop {
        let now = *activity.borrow_and_update();
        if now.started > 0 && now.in_flight == 0 {
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                changed = activity.changed() => if changed.is_err() { return std::future::pending().await },
            }
        } else if activity.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
