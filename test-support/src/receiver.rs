//! A callback receiver on loopback for the callback tests: records every request it gets and
//! answers each with the next status of its script (then `200`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use tokio::net::TcpListener;

/// One request as received: its headers and its exact body bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    script: VecDeque<u16>,
}

/// A running receiver; it stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on a free loopback port; answers `statuses` in order, then `200`.
    pub async fn start(statuses: &[u16]) -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0".parse()?, statuses).await
    }

    pub async fn start_on(addr: SocketAddr, statuses: &[u16]) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            received: Vec::new(),
            script: statuses.iter().copied().collect(),
        }));
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived (failing after `limit`), and returns them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> anyhow::Result<Vec<Received>> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return Ok(got);
            }
            if start.elapsed() > limit {
                anyhow::bail!("{} of {n} callbacks arrived within {limit:?}", got.len());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Mutex<Shared>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let shared = shared.clone();
                async move {
                    let headers = request.headers().clone();
                    let body = request.into_body().collect().await?.to_bytes();
                    let status = {
                        let mut shared = shared.lock().unwrap();
                        shared.received.push(Received { headers, body });
                        shared.script.pop_front().unwrap_or(200)
                    };
                    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                    *response.status_mut() = StatusCode::from_u16(status).unwrap_or_default();
                    Ok::<_, hyper::Error>(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}
