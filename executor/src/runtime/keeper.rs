//! The Keeper runtime: `ContainerRuntime` over HTTP (protocol v1, docs/keeper.md).
//!
//! One `reqwest::Client` per runtime (connections reused); connect and per-call timeouts;
//! retries with backoff only for idempotent calls (`ensure`, `status`); a stream that ends
//! without an exit frame is `RuntimeError::Stream` with a [`KeeperError`] cause; `kill` is bounded by the
//! per-call timeout so a silent Keeper cannot hold a run past its deadline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, ExitStatus, OutputLine, Placement, RuntimeError,
    RuntimeId,
};
use crewship_core::secret::Secret;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};

use crate::keeper::protocol::{
    EnsureRequest, ErrorBody, ExecRequest, Frame, KillRequest, MAX_FRAME_BYTES, RuntimeInfo, Stdin,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: u32 = 3;

pub struct KeeperRuntime {
    client: Client,
    base: String,
    token: Secret,
    call_timeout: Duration,
}

impl KeeperRuntime {
    /// A Keeper at `base_url` (`https://` verified against the system's roots).
    pub fn new(base_url: &str, token: Secret) -> Result<Self, RuntimeError> {
        Self::build(base_url, token, None)
    }

    /// A Keeper whose certificate is verified against the CA certificates in `ca_file` (PEM)
    /// only: a private Keeper's own CA, not every CA the system trusts.
    pub fn with_ca_file(
        base_url: &str,
        token: Secret,
        ca_file: &Path,
    ) -> Result<Self, RuntimeError> {
        let pem = std::fs::read(ca_file).map_err(|source| {
            RuntimeError::unavailable(KeeperError::CaFile {
                path: ca_file.to_owned(),
                source: source.into(),
            })
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
            RuntimeError::unavailable(KeeperError::CaFile {
                path: ca_file.to_owned(),
                source: source.into(),
            })
        })?;
        Self::build(base_url, token, Some(certs))
    }

    fn build(
        base_url: &str,
        token: Secret,
        roots: Option<Vec<reqwest::Certificate>>,
    ) -> Result<Self, RuntimeError> {
        let mut builder = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // Below the server's idle timeout (5 s by default): a pooled connection is dropped
            // here before the server closes it, so no call races a closing connection.
            .pool_idle_timeout(Duration::from_secs(2));
        if let Some(roots) = roots {
            builder = builder.tls_certs_only(roots);
        }
        let client = builder.build().map_err(RuntimeError::unavailable)?;
        Ok(Self {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
            token,
            call_timeout: CALL_TIMEOUT,
        })
    }

    /// Shorter per-call timeouts, for tests of a silent Keeper.
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
    }

    /// Status of a runtime, retried (idempotent).
    pub async fn status(&self, runtime: &RuntimeId) -> Result<RuntimeInfo, RuntimeError> {
        let path = format!("/v1/runtimes/{}", runtime.0);
        let resp = self
            .retrying(|| self.request(Method::GET, &path).timeout(self.call_timeout))
            .await
            .map_err(RuntimeError::unavailable)?;
        resp.json()
            .await
            .map_err(|e| RuntimeError::unavailable(KeeperError::BadAnswer(e)))
    }

    async fn retrying(&self, build: impl Fn() -> RequestBuilder) -> Result<Response, KeeperError> {
        let mut backoff = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let result = build().send().await;
            let retry = match &result {
                Ok(r) => r.status().is_server_error(),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            if !retry || attempt >= ATTEMPTS {
                return checked(result).await;
            }
            tracing::warn!(attempt, "Keeper call failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// What went wrong talking to Keeper; the source of the runtime error the caller sees.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    #[error("reading Keeper's CA certificates {}", .path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: crewship_core::store::BoxError,
    },
    #[error("Keeper unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// `message` is Keeper's own error body (`<code>: <message>`), or the status.
    #[error("Keeper rejected the token ({message})")]
    Unauthorized { message: String },
    #[error("Keeper answered {status} ({message})")]
    Refused { status: StatusCode, message: String },
    #[error("Keeper sent a bad answer")]
    BadAnswer(#[source] reqwest::Error),
    #[error("Keeper did not start the exec")]
    NotStarted,
    #[error("Keeper sent a bad frame")]
    BadFrame(#[source] serde_json::Error),
    #[error("Keeper sent a frame over the limit")]
    FrameTooLarge,
    #[error("Keeper stream ended mid-frame")]
    EndedMidFrame,
    #[error("Keeper stream broke")]
    StreamBroke(#[source] reqwest::Error),
    #[error("Keeper reported: {0}")]
    Reported(String),
    #[error("Keeper sent a second start frame")]
    SecondStart,
    #[error("Keeper stream ended without an exit status")]
    NoExitStatus,
}

/// A transport error or a non-2xx answer.
async fn checked(result: reqwest::Result<Response>) -> Result<Response, KeeperError> {
    let resp = result.map_err(KeeperError::Unreachable)?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body: Option<ErrorBody> = resp.json().await.ok();
    let message = body.map_or_else(
        || status.to_string(),
        |b| format!("{}: {}", b.error, b.message),
    );
    Err(if status == StatusCode::UNAUTHORIZED {
        KeeperError::Unauthorized { message }
    } else {
        KeeperError::Refused { status, message }
    })
}

#[async_trait]
impl ContainerRuntime for KeeperRuntime {
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError> {
        let crew = &place.crew;
        let path = format!("/v1/runtimes/{}", place.key());
        let body = EnsureRequest {
            isolation: place.isolation.clone(),
        };
        let resp = self
            .retrying(|| {
                self.request(Method::PUT, &path)
                    .json(&body)
                    .timeout(self.call_timeout)
            })
            .await
            .map_err(|e| RuntimeError::ensure(crew, e))?;
        let info: RuntimeInfo = resp
            .json()
            .await
            .map_err(|e| RuntimeError::ensure(crew, KeeperError::BadAnswer(e)))?;
        Ok(RuntimeId(info.id))
    }

    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError> {
        use base64::Engine;
        let body = ExecRequest {
            argv: spec.argv,
            env: spec
                .env
                .into_iter()
                .map(|(k, v)| (k, v.expose().to_owned()))
                .collect(),
            cwd: None,
            stdin: (!spec.stdin.is_empty()).then(|| {
                Stdin::Base64(base64::engine::general_purpose::STANDARD.encode(&spec.stdin))
            }),
        };
        // Never retried: a second exec would run the agent twice. No overall timeout: the
        // run's deadline bounds the stream; the connect timeout bounds the start.
        let resp = checked(
            self.request(Method::POST, &format!("/v1/runtimes/{}/exec", runtime.0))
                .json(&body)
                .send()
                .await,
        )
        .await
        .map_err(RuntimeError::spawn)?;
        let mut execution = KeeperExecution {
            runtime: self.clone_handle(),
            resp,
            buf: Vec::new(),
            exec_id: None,
            exit: None,
            ended: false,
            result: None,
        };
        match execution.next_frame().await {
            Ok(Some(Frame::Started { exec_id })) => execution.exec_id = Some(exec_id),
            Ok(_) => return Err(RuntimeError::spawn(KeeperError::NotStarted)),
            Err(e) => return Err(RuntimeError::spawn(e)),
        }
        Ok(Box::new(execution))
    }

    fn describe(&self) -> String {
        format!("keeper {}", self.base)
    }
}

impl KeeperRuntime {
    fn clone_handle(&self) -> KeeperRuntime {
        KeeperRuntime {
            client: self.client.clone(),
            base: self.base.clone(),
            token: self.token.clone(),
            call_timeout: self.call_timeout,
        }
    }
}

struct KeeperExecution {
    runtime: KeeperRuntime,
    resp: Response,
    buf: Vec<u8>,
    exec_id: Option<String>,
    exit: Option<ExitStatus>,
    ended: bool,
    /// The server's `result` frame, if the agent left one.
    result: Option<Vec<u8>>,
}

impl KeeperExecution {
    /// The next frame; `Ok(None)` when the body ended cleanly between frames.
    async fn next_frame(&mut self) -> Result<Option<Frame>, KeeperError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return serde_json::from_slice(&line[..pos])
                    .map(Some)
                    .map_err(KeeperError::BadFrame);
            }
            if self.buf.len() > MAX_FRAME_BYTES {
                return Err(KeeperError::FrameTooLarge);
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) if self.buf.is_empty() => return Ok(None),
                Ok(None) => return Err(KeeperError::EndedMidFrame),
                Err(e) => return Err(KeeperError::StreamBroke(e)),
            }
        }
    }
}

#[async_trait]
impl Execution for KeeperExecution {
    async fn next_line(&mut self) -> Option<Result<OutputLine, RuntimeError>> {
        if self.ended {
            return None;
        }
        let result: Option<Result<OutputLine, KeeperError>> = loop {
            break match self.next_frame().await {
                Ok(Some(Frame::Line { stream, content })) => {
                    return Some(Ok(OutputLine { stream, content }));
                }
                Ok(Some(Frame::Result { content })) => {
                    self.result = Some(content.into_bytes());
                    continue;
                }
                Ok(Some(Frame::Exit { code, signal })) => {
                    self.exit = Some(match (code, signal) {
                        (Some(c), _) => ExitStatus::Code(c),
                        (None, Some(s)) => ExitStatus::Signal(s),
                        (None, None) => ExitStatus::Code(-1),
                    });
                    None
                }
                Ok(Some(Frame::Error { message })) => Some(Err(KeeperError::Reported(message))),
                Ok(Some(Frame::Started { .. })) => Some(Err(KeeperError::SecondStart)),
                Ok(None) => Some(Err(KeeperError::NoExitStatus)),
                Err(e) => Some(Err(e)),
            };
        };
        self.ended = true;
        result.map(|r| r.map_err(RuntimeError::stream))
    }

    async fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        while !self.ended {
            if let Some(Err(e)) = self.next_line().await {
                return Err(e);
            }
        }
        self.exit
            .ok_or_else(|| RuntimeError::stream(KeeperError::NoExitStatus))
    }

    async fn kill(&mut self, grace: Duration) -> Result<(), RuntimeError> {
        let Some(id) = &self.exec_id else {
            return Ok(());
        };
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        // Bounded: the server waits up to `grace` before answering, plus the call timeout.
        let result = self
            .runtime
            .request(Method::POST, &format!("/v1/execs/{id}/kill"))
            .json(&KillRequest { grace_ms })
            .timeout(grace + self.runtime.call_timeout)
            .send()
            .await;
        checked(result)
            .await
            .map(|_| ())
            .map_err(RuntimeError::unavailable)
    }

    async fn take_result(&mut self, limit: usize) -> Result<Option<Vec<u8>>, RuntimeError> {
        Ok(self.result.take().map(|mut bytes| {
            bytes.truncate(limit);
            bytes
        }))
    }
}
