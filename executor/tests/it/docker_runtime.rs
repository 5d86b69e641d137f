//! The docker runtime on the machine's Docker Engine, beyond the conformance suite: what the
//! container is (limits, network, user, mounts, as `docker inspect` shows them), that a kill
//! leaves no process of the tree in the container, and the reconciliation and idle stop of the
//! containers it labelled.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crewship_core::isolation::{Cpus, Isolation, Limits};
use crewship_core::log::Stream;
use crewship_core::runtime::{ContainerRuntime, ExecSpec, ExitStatus, Placement};
use crewship_settings::DockerOptions;
use crewship_test_support::docker::{self, Instance, TEST_IMAGE};
use executor::runtime::DockerRuntime;

/// The runtime's settings for a test: the test image, the test's own instance, no idle stop.
pub fn options(root: &Path, instance: &Instance) -> DockerOptions {
    DockerOptions {
        host: None,
        work_dir: root.to_path_buf(),
        image: Some(TEST_IMAGE.to_owned()),
        uid: 65534,
        gid: 65534,
        idle_stop: None,
        limits: Limits::default(),
        name_prefix: instance.prefix.clone(),
    }
}

/// A runtime of a fresh instance in a fresh work directory; `None` (skip) without an engine.
fn setup() -> Option<(Instance, tempfile::TempDir, DockerRuntime)> {
    setup_with(|_| {})
}

fn setup_with(
    adjust: impl FnOnce(&mut DockerOptions),
) -> Option<(Instance, tempfile::TempDir, DockerRuntime)> {
    if !docker::available() {
        return None;
    }
    let instance = Instance::new();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), &instance);
    adjust(&mut opts);
    let rt = DockerRuntime::new(opts).unwrap();
    Some((instance, dir, rt))
}

/// Waits until the container is not running, failing after `limit`.
async fn wait_stopped(name: &str, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while inspect(name, "{{.State.Running}}") == "true" {
        assert!(std::time::Instant::now() < deadline, "{name} still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sh(script: &str) -> ExecSpec {
    ExecSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: Vec::new(),
        stdin: Vec::new(),
    }
}

fn place() -> Placement {
    Placement::new("ws-docker".parse().unwrap(), "crew-docker".parse().unwrap())
}

fn inspect(name: &str, format: &str) -> String {
    docker::docker(&["inspect", "--format", format, name]).unwrap()
}

#[tokio::test]
async fn the_crews_container_carries_the_configured_confinement() {
    let Some((_instance, dir, rt)) = setup() else {
        return;
    };
    let mut place = place();
    place.isolation = Isolation {
        memory_mb: Some(256),
        cpus: Some(Cpus::from_millis(500)),
        pids_limit: Some(64),
        ..Default::default()
    };
    let id = rt.ensure(&place).await.unwrap();
    let name = &id.0;
    assert_eq!(inspect(name, "{{.HostConfig.Memory}}"), "268435456");
    assert_eq!(inspect(name, "{{.HostConfig.MemorySwap}}"), "268435456");
    assert_eq!(inspect(name, "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(inspect(name, "{{.HostConfig.PidsLimit}}"), "64");
    assert_eq!(inspect(name, "{{.HostConfig.NetworkMode}}"), "none");
    assert_eq!(inspect(name, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(inspect(name, "{{.HostConfig.CapDrop}}"), "[ALL]");
    assert_eq!(
        inspect(name, "{{.HostConfig.SecurityOpt}}"),
        "[no-new-privileges]"
    );
    assert_eq!(inspect(name, "{{.Config.User}}"), "65534:65534");
    assert_eq!(
        inspect(
            name,
            "{{range .Mounts}}{{.Source}}->{{.Destination}} {{end}}"
        ),
        format!(
            "{}->/work",
            dir.path().join("ws-docker/crew-docker").display()
        )
    );
    assert_eq!(
        inspect(
            name,
            "{{index .Config.Labels \"crewship.workspace\"}}/{{index .Config.Labels \"crewship.crew\"}}/{{index .Config.Labels \"crewship.managed\"}}"
        ),
        "ws-docker/crew-docker/true"
    );
    // The agent is not root and cannot write outside its directory and /tmp.
    let mut exec = rt
        .exec(
            &id,
            sh("id -u; touch /etc/x 2>/dev/null && echo wrote-etc; touch /work/ok /tmp/ok && echo wrote-work"),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(line) = exec.next_line().await {
        out.push(line.unwrap().content);
    }
    assert_eq!(out, ["65534", "wrote-work"]);
}

/// The agent starts `sleep 300 &` and ignores SIGTERM; after the kill no process of the tree
/// is in the container (`docker top`), only its keep-alive.
#[tokio::test]
async fn kill_leaves_no_process_of_the_tree_in_the_container() {
    let Some((_instance, _dir, rt)) = setup() else {
        return;
    };
    let id = rt.ensure(&place()).await.unwrap();
    let script = "trap '' TERM; sleep 300 & sleep 301 & echo ready; wait";
    let mut exec = rt.exec(&id, sh(script)).await.unwrap();
    assert_eq!(exec.next_line().await.unwrap().unwrap().content, "ready");
    let top = || docker::docker(&["top", &id.0, "-o", "pid,args"]).unwrap();
    assert!(top().contains("sleep 301"), "{}", top());
    let started = std::time::Instant::now();
    exec.kill(Duration::from_millis(300)).await.unwrap();
    while let Some(Ok(_)) = exec.next_line().await {}
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = top();
        if !now.contains("sleep 30") && !now.contains("trap") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "survivors: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The container itself lives on for the crew's next agent.
    assert!(top().contains("docker-init -- cat"), "{}", top());
}

/// A new runtime of the same instance stops the containers a previous one left running, and
/// with them the agents in them (a dead executor's stale execs); the next ensure starts the
/// container again.
#[tokio::test]
async fn at_start_stale_agents_of_a_previous_executor_are_stopped() {
    let Some((instance, dir, first)) = setup() else {
        return;
    };
    let id = first.ensure(&place()).await.unwrap();
    let mut stale = first.exec(&id, sh("echo up; sleep 300")).await.unwrap();
    assert_eq!(stale.next_line().await.unwrap().unwrap().content, "up");
    // The executor "dies": its runtime and the exec handle are forgotten without a kill.
    std::mem::forget(stale);
    drop(first);
    let second: Arc<dyn ContainerRuntime> =
        Arc::new(DockerRuntime::new(options(dir.path(), &instance)).unwrap());
    wait_stopped(&id.0, Duration::from_secs(15)).await;
    assert_eq!(second.ensure(&place()).await.unwrap(), id);
    let top = docker::docker(&["top", &id.0, "-o", "pid,args"]).unwrap();
    assert!(!top.contains("sleep 300"), "{top}");
}

/// A message larger than any pipe buffer arrives whole, and the output of an agent that
/// prints while it reads does not hold up its input.
#[tokio::test]
async fn a_large_message_arrives_whole_on_stdin() {
    let Some((_instance, _dir, rt)) = setup() else {
        return;
    };
    let id = rt.ensure(&place()).await.unwrap();
    let mut spec = sh("tee /dev/stderr | wc -c");
    spec.stdin = vec![b'x'; 1024 * 1024];
    let mut exec = rt.exec(&id, spec).await.unwrap();
    let mut stdout = Vec::new();
    let mut stderr_bytes = 0;
    while let Some(line) = exec.next_line().await {
        let line = line.unwrap();
        match line.stream {
            Stream::Stdout => stdout.push(line.content),
            _ => stderr_bytes += line.content.len(),
        }
    }
    assert_eq!(stdout, ["1048576"]);
    assert_eq!(stderr_bytes, 1024 * 1024);
    assert_eq!(exec.wait().await.unwrap(), ExitStatus::Code(0));
}

/// The idle reaper (or an operator) may stop the container between `ensure` and `exec`.
#[tokio::test]
async fn an_exec_into_a_stopped_container_starts_it_again() {
    let Some((_instance, _dir, rt)) = setup() else {
        return;
    };
    let id = rt.ensure(&place()).await.unwrap();
    docker::docker(&["stop", "-t", "0", &id.0]).unwrap();
    let mut exec = rt.exec(&id, sh("echo back")).await.unwrap();
    assert_eq!(exec.next_line().await.unwrap().unwrap().content, "back");
}

#[tokio::test]
async fn a_missing_image_fails_ensure_naming_it_and_nothing_is_pulled() {
    let Some((instance, _dir, rt)) =
        setup_with(|o| o.image = Some("crewship-test/no-such-image:0".into()))
    else {
        return;
    };
    let text = rt.ensure(&place()).await.unwrap_err().to_string();
    assert!(text.contains("could not be ensured"), "{text}");
    assert!(text.contains("no-such-image"), "{text}");
    assert!(instance.containers().is_empty());
}

#[tokio::test]
async fn an_idle_container_is_stopped_and_started_again_on_use() {
    let Some((_instance, _dir, rt)) =
        setup_with(|o| o.idle_stop = Some(Duration::from_millis(500)))
    else {
        return;
    };
    let id = rt.ensure(&place()).await.unwrap();
    // Busy for longer than the idle time: not stopped under a running agent.
    let mut exec = rt.exec(&id, sh("sleep 2; echo done")).await.unwrap();
    assert_eq!(exec.next_line().await.unwrap().unwrap().content, "done");
    while exec.next_line().await.is_some() {}
    drop(exec);
    wait_stopped(&id.0, Duration::from_secs(10)).await;
    assert_eq!(rt.ensure(&place()).await.unwrap(), id);
    assert_eq!(inspect(&id.0, "{{.State.Running}}"), "true");
}
