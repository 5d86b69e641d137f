//! One conformance suite for container runtimes, run unchanged against the local process
//! runtime, the sandbox runtime (bubblewrap), the docker runtime on the machine's Docker Engine,
//! and the Keeper client talking to an in-process Keeper server on port 0 over each of them.

use std::sync::Arc;
use std::time::Duration;

use crewship_core::log::Stream;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, ExitStatus, Placement, RuntimeId,
};
use crewship_core::secret::Secret;
use crewship_test_support::{docker, procs};
use executor::runtime::lines::MAX_LINE_BYTES;
use executor::runtime::{DockerRuntime, KeeperRuntime, ProcessRuntime, SandboxRuntime};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "conformance-token-0123456789";

fn sh(script: &str) -> ExecSpec {
    ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: Vec::new(),
        stdin: Vec::new(),
    }
}

fn place(crew: &str) -> Placement {
    Placement::new("ws-conf".parse().unwrap(), crew.parse().unwrap())
}

async fn start(rt: &Arc<dyn ContainerRuntime>, spec: ExecSpec) -> Box<dyn Execution> {
    let place = place("crew-conf");
    let id: RuntimeId = rt.ensure(&place).await.unwrap();
    // ensure is idempotent: the same crew gets the same runtime.
    assert_eq!(rt.ensure(&place).await.unwrap(), id);
    rt.exec(&id, spec).await.unwrap()
}

async fn collect(exec: &mut Box<dyn Execution>) -> (Vec<(Stream, String)>, ExitStatus) {
    let mut lines = Vec::new();
    while let Some(line) = exec.next_line().await {
        let line = line.unwrap();
        lines.push((line.stream, line.content));
    }
    (lines, exec.wait().await.unwrap())
}

async fn exit_codes_are_reported(rt: Arc<dyn ContainerRuntime>) {
    let mut exec = start(&rt, sh("exit 3")).await;
    assert_eq!(collect(&mut exec).await.1, ExitStatus::Code(3));
    let mut exec = start(&rt, sh("true")).await;
    assert_eq!(collect(&mut exec).await.1, ExitStatus::Code(0));
}

async fn lines_arrive_in_order_per_stream(rt: Arc<dyn ContainerRuntime>) {
    let mut exec = start(
        &rt,
        sh("for i in 1 2 3; do echo out$i; echo err$i >&2; done"),
    )
    .await;
    let (lines, _) = collect(&mut exec).await;
    let of = |s: Stream| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.0 == s)
            .map(|l| l.1.clone())
            .collect()
    };
    assert_eq!(of(Stream::Stdout), ["out1", "out2", "out3"]);
    assert_eq!(of(Stream::Stderr), ["err1", "err2", "err3"]);
}

async fn stdin_is_delivered(rt: Arc<dyn ContainerRuntime>) {
    let mut spec = sh("cat");
    spec.stdin = b"hello\nworld\n".to_vec();
    let mut exec = start(&rt, spec).await;
    let (lines, status) = collect(&mut exec).await;
    assert_eq!(status, ExitStatus::Code(0));
    let out: Vec<_> = lines.into_iter().map(|l| l.1).collect();
    assert_eq!(out, ["hello", "world"]);
}

async fn env_is_delivered(rt: Arc<dyn ContainerRuntime>) {
    let mut spec = sh("echo \"$AGENT_KEY\"");
    spec.env = vec![("AGENT_KEY".into(), Secret::new("s3cret value"))];
    let mut exec = start(&rt, spec).await;
    let (lines, _) = collect(&mut exec).await;
    assert_eq!(lines, [(Stream::Stdout, "s3cret value".to_owned())]);
}

async fn long_lines_arrive_split(rt: Arc<dyn ContainerRuntime>) {
    let n = MAX_LINE_BYTES * 2 + 10;
    let mut exec = start(
        &rt,
        sh(&format!("head -c {n} /dev/zero | tr '\\0' x; echo")),
    )
    .await;
    let (lines, _) = collect(&mut exec).await;
    let sizes: Vec<_> = lines.iter().map(|l| l.1.len()).collect();
    assert_eq!(sizes, [MAX_LINE_BYTES, MAX_LINE_BYTES, 10]);
}

/// The agent writes its pids into its working directory; whether they live is asked inside the
/// same place, through the runtime, so the pids mean what they meant to the agent (a
/// container's pid namespace is not the host's).
async fn kill_stops_the_tree(rt: Arc<dyn ContainerRuntime>) {
    let marker = uuid::Uuid::now_v7().to_string();
    let mut spec = sh("trap '' TERM; sleep 300 & echo ready; wait");
    spec.env = vec![("CONFORMANCE_TREE".into(), Secret::new(&marker))];
    let mut exec = start(&rt, spec).await;
    let first = exec.next_line().await.unwrap().unwrap();
    assert_eq!(first.content, "ready");
    // The shell and its background sleep, at least (a runtime may add its own processes).
    let tree = procs::with_env("CONFORMANCE_TREE", &marker);
    assert!(tree.len() >= 2, "the agent's tree: {tree:?}");
    exec.kill(Duration::from_millis(300)).await.unwrap();
    // Poll with a deadline: reaping is asynchronous.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alive = procs::with_env("CONFORMANCE_TREE", &marker);
        if alive.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still alive: {alive:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The stream ends after a kill.
    while let Some(Ok(_)) = exec.next_line().await {}
}

/// The contract's first signal is SIGTERM, and the agent gets the grace period to act on it:
/// a sandbox must not turn it into an immediate SIGKILL.
async fn kill_sends_sigterm_first(rt: Arc<dyn ContainerRuntime>) {
    let script = "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done";
    let mut exec = start(&rt, sh(script)).await;
    assert_eq!(exec.next_line().await.unwrap().unwrap().content, "ready");
    exec.kill(Duration::from_secs(10)).await.unwrap();
    let mut rest = Vec::new();
    while let Some(Ok(line)) = exec.next_line().await {
        rest.push(line.content);
    }
    // (The shell may also report its `sleep`, which the same signal ended.)
    assert!(rest.iter().any(|l| l == "got-term"), "{rest:?}");
}

/// Runs the whole suite against one runtime.
/// Two workspaces that both name a crew `ops` get two places: a file one of them writes is not
/// there for the other.
async fn places_are_keyed_by_workspace_and_crew(rt: Arc<dyn ContainerRuntime>) {
    let a = Placement::new("ws-a".parse().unwrap(), "ops".parse().unwrap());
    let b = Placement::new("ws-b".parse().unwrap(), "ops".parse().unwrap());
    let (id_a, id_b) = (rt.ensure(&a).await.unwrap(), rt.ensure(&b).await.unwrap());
    assert_ne!(id_a, id_b);
    let mut write = rt.exec(&id_a, sh("echo a > mine.txt")).await.unwrap();
    assert_eq!(collect(&mut write).await.1, ExitStatus::Code(0));
    let mut read = rt
        .exec(&id_b, sh("cat mine.txt 2>/dev/null || echo absent"))
        .await
        .unwrap();
    let (lines, _) = collect(&mut read).await;
    assert_eq!(lines, vec![(Stream::Stdout, "absent".to_owned())]);
}

async fn suite(rt: Arc<dyn ContainerRuntime>) {
    places_are_keyed_by_workspace_and_crew(rt.clone()).await;
    exit_codes_are_reported(rt.clone()).await;
    lines_arrive_in_order_per_stream(rt.clone()).await;
    stdin_is_delivered(rt.clone()).await;
    env_is_delivered(rt.clone()).await;
    long_lines_arrive_split(rt.clone()).await;
    kill_sends_sigterm_first(rt.clone()).await;
    kill_stops_the_tree(rt).await;
}

#[tokio::test]
async fn process_runtime_conforms() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(ProcessRuntime::new(dir.path()))).await;
}

/// The docker runtime on the test image, with an instance (container name prefix) of its own.
fn docker_runtime(root: &std::path::Path, instance: &docker::Instance) -> DockerRuntime {
    DockerRuntime::new(crate::docker_runtime::options(root, instance)).unwrap()
}

#[tokio::test]
async fn docker_runtime_conforms() {
    if !docker::available() {
        return;
    }
    let instance = docker::Instance::new();
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(docker_runtime(dir.path(), &instance))).await;
}

#[tokio::test]
async fn keeper_over_docker_conforms() {
    if !docker::available() {
        return;
    }
    let instance = docker::Instance::new();
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(docker_runtime(dir.path(), &instance));
    let (url, stop) = keeper_server_over(local).await;
    let rt = KeeperRuntime::new(&url, Secret::new(TOKEN)).unwrap();
    suite(Arc::new(rt)).await;
    stop.cancel();
}

#[tokio::test]
async fn sandbox_runtime_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let Some(rt) = sandbox(dir.path()) else {
        return;
    };
    suite(rt).await;
}

/// The sandbox runtime over `root`, or `None` (printed) when bubblewrap is missing and `CI` is
/// unset; under `CI` a missing bubblewrap fails the test.
fn sandbox(root: &std::path::Path) -> Option<Arc<dyn ContainerRuntime>> {
    if !procs::bwrap_available() {
        return None;
    }
    // Installed but refused (user namespaces off) fails: the runtime was asked for.
    Some(Arc::new(SandboxRuntime::new(root).unwrap()))
}

/// Starts an in-process Keeper server on port 0 over the process runtime; returns its URL and
/// a stop switch.
async fn keeper_server(root: &std::path::Path) -> (String, CancellationToken) {
    keeper_server_over(Arc::new(ProcessRuntime::new(root))).await
}

async fn keeper_server_over(local: Arc<dyn ContainerRuntime>) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(executor::keeper::server::serve(
        listener,
        local,
        Secret::new(TOKEN),
        async move { s.cancelled().await },
    ));
    (url, stop)
}

#[tokio::test]
async fn keeper_runtime_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop) = keeper_server(dir.path()).await;
    let rt = KeeperRuntime::new(&url, Secret::new(TOKEN)).unwrap();
    suite(Arc::new(rt)).await;
    stop.cancel();
}

#[tokio::test]
async fn keeper_over_the_sandbox_runtime_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let Some(local) = sandbox(dir.path()) else {
        return;
    };
    let (url, stop) = keeper_server_over(local).await;
    let rt = KeeperRuntime::new(&url, Secret::new(TOKEN)).unwrap();
    suite(Arc::new(rt)).await;
    stop.cancel();
}

#[tokio::test]
async fn keeper_rejects_a_wrong_token_naming_keeper() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop) = keeper_server(dir.path()).await;
    let rt = KeeperRuntime::new(&url, Secret::new("wrong-token")).unwrap();
    let err = rt.ensure(&place("crew-a")).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Keeper rejected the token"), "{text}");
    assert!(!text.contains("wrong-token"), "{text}");
    stop.cancel();
}

#[tokio::test]
async fn keeper_unreachable_fails_ensure_naming_keeper() {
    // Bind then drop: nothing listens on this port.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rt = KeeperRuntime::new(&format!("http://{addr}"), Secret::new(TOKEN)).unwrap();
    let text = rt.ensure(&place("crew-a")).await.unwrap_err().to_string();
    assert!(text.contains("Keeper unreachable"), "{text}");
}
