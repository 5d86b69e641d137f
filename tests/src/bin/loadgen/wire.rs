//! What every mode shares: distinct signed bodies, one hyper connection, percentiles.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// One agent of a running runner, and the credentials to trigger and watch it.
#[derive(clap::Args)]
pub struct Target {
    /// The runner's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub base: String,
    #[arg(long)]
    pub crew: String,
    #[arg(long)]
    pub agent: String,
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123456789abcdef")]
    pub secret: String,
    /// An API token of the agent's workspace, for the monitoring API and `/ws`.
    #[arg(long)]
    pub token: String,
}

impl Target {
    /// Sends one signed webhook whose `event` is `event`; the run id of the `202`.
    pub async fn trigger(&self, http: &reqwest::Client, event: &str) -> anyhow::Result<String> {
        let url = format!(
            "{}/api/v1/webhooks/{}/{}/trigger",
            self.base, self.crew, self.agent
        );
        let body = serde_json::json!({ "event": event }).to_string();
        let signature = e2e_tests::sign(&self.secret, body.as_bytes());
        let answer: Value = http
            .post(url)
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(answer["run_id"].as_str().context("no run id")?.to_owned())
    }
}

/// A 1 KiB (or `size`) JSON body unique to `n`.
pub fn body(n: u64, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"event":"bench","source":"loadgen","data":{{"n":{n},"pad":""#);
    let tail = "\"}}";
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    body.resize(body.len() + pad, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

pub fn signed(uri: &hyper::Uri, secret: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    let signature = e2e_tests::sign(secret, &body);
    Request::post(uri.clone())
        .header("host", uri.authority().map_or("localhost", |a| a.as_str()))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(Full::new(Bytes::from(body)))
        .expect("valid request")
}

pub type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

pub async fn connect(uri: &hyper::Uri) -> anyhow::Result<Sender> {
    let addr = format!(
        "{}:{}",
        uri.host().context("URL without host")?,
        uri.port_u16().unwrap_or(80)
    );
    let stream = TcpStream::connect(addr).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request and returns its status and body.
pub async fn send(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}
