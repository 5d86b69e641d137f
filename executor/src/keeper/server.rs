//! The Keeper server: protocol v1 over HTTP on top of a local `ContainerRuntime` (in the local
//! runner, the process runtime with one working directory per crew).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use base64::Engine;
use crewship_core::runtime::{ContainerRuntime, ExecSpec, ExitStatus, Placement, RuntimeId};
use crewship_core::secret::Secret;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::extract::{self, Authorized, KeeperPath, RawBody, parse_json};
use super::protocol::{
    EnsureRequest, ErrorBody, ExecRequest, Frame, KillRequest, MAX_ARGV, MAX_ENV,
    MAX_REQUEST_BYTES, MAX_RESULT_READ, RuntimeInfo, Stdin,
};

type KillTx = mpsc::Sender<(Duration, oneshot::Sender<()>)>;

#[derive(Clone)]
pub(super) struct KeeperState {
    token: Secret,
    runtime: Arc<dyn ContainerRuntime>,
    /// Runtime id (as handed out) → crew and local runtime id.
    runtimes: Arc<Mutex<HashMap<String, (String, RuntimeId)>>>,
    execs: Arc<Mutex<HashMap<String, KillTx>>>,
}

pub(super) struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.1.into(),
            message: self.2,
        };
        (self.0, Json(body)).into_response()
    }
}

pub(super) fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError(status, code, message.into())
}

pub(super) fn authorize(state: &KeeperState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    if state.token.matches(presented) {
        Ok(())
    } else {
        Err(err(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token",
        ))
    }
}

/// The protocol's routes. `token` must be non-empty (an empty one matches nothing).
pub fn router(runtime: Arc<dyn ContainerRuntime>, token: Secret) -> Router {
    let state = KeeperState {
        token,
        runtime,
        runtimes: Arc::default(),
        execs: Arc::default(),
    };
    Router::new()
        // PUT takes `<workspace>.<crew>`, GET a runtime id: one path pattern, two meanings.
        .route("/v1/runtimes/{key}", put(ensure).get(status))
        .route("/v1/runtimes/{id}/exec", post(exec))
        .route("/v1/execs/{id}/kill", post(kill))
        .method_not_allowed_fallback(extract::method_not_allowed)
        .fallback(extract::not_found)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    runtime: Arc<dyn ContainerRuntime>,
    token: Secret,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(runtime, token))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn ensure(
    _: Authorized,
    State(state): State<KeeperState>,
    KeeperPath(key): KeeperPath,
    RawBody(body): RawBody,
) -> Result<Json<RuntimeInfo>, ApiError> {
    let place = placement(&key, &body)?;
    let crew = place.crew.to_string();
    let local = state.runtime.ensure(&place).await.map_err(|e| {
        tracing::warn!(error = %e, "ensure failed");
        err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "runtime could not be ensured",
        )
    })?;
    let id = runtime_id(&key, &place.isolation);
    state
        .runtimes
        .lock()
        .unwrap()
        .insert(id.clone(), (crew.clone(), local));
    Ok(Json(RuntimeInfo {
        id,
        crew,
        state: "running".into(),
    }))
}

/// `rt-<workspace>.<crew>`, plus a digest of the isolation when it is not the default: two
/// agents of one crew that ask for different isolation (one without a network, one with) get
/// two ids, so neither runs with the other's. Ids live as long as this server; the digest only
/// has to be stable within it.
fn runtime_id(key: &str, isolation: &crewship_core::isolation::Isolation) -> String {
    use std::hash::{Hash, Hasher};
    if *isolation == crewship_core::isolation::Isolation::default() {
        return format!("rt-{key}");
    }
    // Every field, present and future: the serialized form.
    let mut hasher = std::hash::DefaultHasher::new();
    serde_json::to_string(isolation)
        .unwrap_or_default()
        .hash(&mut hasher);
    format!("rt-{key}-{:016x}", hasher.finish())
}

/// `<workspace>.<crew>` and the optional `EnsureRequest` body.
fn placement(key: &str, body: &[u8]) -> Result<Placement, ApiError> {
    let bad = || {
        err(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "runtime key must be <workspace>.<crew>",
        )
    };
    let (workspace, crew) = key.split_once('.').ok_or_else(bad)?;
    let request: EnsureRequest = if body.is_empty() {
        EnsureRequest::default()
    } else {
        parse_json(body)?
    };
    let isolation = request
        .isolation
        .validate()
        .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    Ok(Placement {
        workspace: workspace.parse().map_err(|_| bad())?,
        crew: crew.parse().map_err(|_| bad())?,
        isolation,
    })
}

async fn status(
    _: Authorized,
    State(state): State<KeeperState>,
    KeeperPath(id): KeeperPath,
) -> Result<Json<RuntimeInfo>, ApiError> {
    let crew = state
        .runtimes
        .lock()
        .unwrap()
        .get(&id)
        .map(|(c, _)| c.clone());
    let crew = crew.ok_or_else(|| err(StatusCode::NOT_FOUND, "not_found", "no such runtime"))?;
    Ok(Json(RuntimeInfo {
        id,
        crew,
        state: "running".into(),
    }))
}

fn frame_bytes(frame: &Frame) -> Bytes {
    let mut line = serde_json::to_vec(frame).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

async fn exec(
    _: Authorized,
    State(state): State<KeeperState>,
    KeeperPath(id): KeeperPath,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let req: ExecRequest = parse_json(&body)?;
    if req.argv.is_empty() || req.argv.len() > MAX_ARGV || req.env.len() > MAX_ENV {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "argv or env out of limits",
        ));
    }
    let local = state
        .runtimes
        .lock()
        .unwrap()
        .get(&id)
        .map(|(_, l)| l.clone());
    let mut local =
        local.ok_or_else(|| err(StatusCode::NOT_FOUND, "not_found", "no such runtime"))?;
    if let Some(cwd) = &req.cwd {
        // Resolved, links included: a link the agent made cannot lead out of its directory.
        local = crate::runtime::cwd::within(&local, cwd)
            .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))?;
    }
    let stdin = match req.stdin {
        None => Vec::new(),
        Some(Stdin::Text(t)) => t.into_bytes(),
        Some(Stdin::Base64(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "stdin is not base64",
                )
            })?,
    };
    let spec = ExecSpec {
        argv: req.argv,
        env: req
            .env
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
        stdin,
    };
    let spec_len = (spec.argv.len(), spec.env.len());
    let mut execution = state.runtime.exec(&local, spec).await.map_err(|e| {
        tracing::warn!(error = %e, "exec failed");
        err(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
    })?;
    let exec_id = format!("x-{}", uuid::Uuid::now_v7());
    // Counts only: env values are secrets and argv may carry the agent's message.
    tracing::info!(%exec_id, runtime = %id, argv = spec_len.0, env = spec_len.1, "exec started");
    let (kill_tx, mut kill_rx) = mpsc::channel::<(Duration, oneshot::Sender<()>)>(4);
    state.execs.lock().unwrap().insert(exec_id.clone(), kill_tx);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let execs = state.execs.clone();
    let started = frame_bytes(&Frame::Started {
        exec_id: exec_id.clone(),
    });
    tokio::spawn(async move {
        let _ = tx.send(started).await;
        loop {
            tokio::select! {
                line = execution.next_line() => match line {
                    Some(Ok(l)) => {
                        let f = Frame::Line { stream: l.stream, content: l.content };
                        if tx.send(frame_bytes(&f)).await.is_err() {
                            // The client went away: nobody will ever read or kill this agent.
                            let _ = execution.kill(Duration::from_secs(2)).await;
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(frame_bytes(&Frame::Error { message: e.to_string() })).await;
                        let _ = execution.kill(Duration::from_secs(2)).await;
                        break;
                    }
                    None => {
                        let exit = execution.wait().await;
                        if exit.is_ok() {
                            match execution.take_result(MAX_RESULT_READ).await {
                                Ok(Some(bytes)) => {
                                    let content = String::from_utf8_lossy(&bytes).into_owned();
                                    let _ = tx.send(frame_bytes(&Frame::Result { content })).await;
                                }
                                Ok(None) => {}
                                Err(e) => tracing::warn!(%exec_id, error = %e, "the agent's result file could not be read"),
                            }
                        }
                        let f = match exit {
                            Ok(ExitStatus::Code(c)) => Frame::Exit { code: Some(c), signal: None },
                            Ok(ExitStatus::Signal(s)) => Frame::Exit { code: None, signal: Some(s) },
                            Err(e) => Frame::Error { message: e.to_string() },
                        };
                        let _ = tx.send(frame_bytes(&f)).await;
                        break;
                    }
                },
                Some((grace, done)) = kill_rx.recv() => {
                    let _ = execution.kill(grace).await;
                    let _ = done.send(());
                }
            }
        }
        // Answer kills that raced with the end.
        while let Ok((_, done)) = kill_rx.try_recv() {
            let _ = done.send(());
        }
        execs.lock().unwrap().remove(&exec_id);
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    }));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

async fn kill(
    _: Authorized,
    State(state): State<KeeperState>,
    KeeperPath(id): KeeperPath,
    RawBody(body): RawBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    // No body: the default grace.
    let requested = if body.is_empty() {
        None
    } else {
        Some(parse_json::<KillRequest>(&body)?)
    };
    let grace = Duration::from_millis(requested.map_or(5_000, |k| k.grace_ms).min(60_000));
    let tx = state.execs.lock().unwrap().get(&id).cloned();
    // Unknown or finished exec: nothing left to kill (idempotent).
    if let Some(tx) = tx {
        let (done_tx, done_rx) = oneshot::channel();
        if tx.send((grace, done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
    }
    Ok(Json(serde_json::json!({"killed": true})))
}
