//! The docker runtime end to end: a signed webhook to the real `local-runner` with
//! `runtime = "docker"` runs its agent in the crew's container on the machine's Docker Engine,
//! and from there the agent cannot read the runner's config file or another crew's files, cannot
//! reach a port the test listens on, does not see the runner's environment, and its container
//! carries the configured limits, no network and a non-root user (`docker inspect`). And no agent
//! outlives a runner killed by SIGKILL.

use std::time::Duration;

use crewship_test_support::docker::{self, Instance, TEST_IMAGE};
use e2e_tests::{Runner, SECRET, StartOptions, TOKEN};

const LIMIT: Duration = Duration::from_secs(60);
const MARKER: &str = "runner-env-marker-4f2a9c";
const AWS_SECRET: &str = "aws-secret-must-not-leak-77d1";

fn config(instance: &Instance, probe: &str) -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[executor]
kill_grace_secs = 1
runtime = "docker"
docker_image = "{TEST_IMAGE}"
docker_name_prefix = "{prefix}"
docker_memory_mb = 192
docker_millicpus = 750
docker_pids_limit = 48

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "probe"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", {probe:?}]
webhook_secret = "{SECRET}"
"#,
        prefix = instance.prefix,
    )
}

/// What the agent tries; every line it prints is checked below.
fn probe_script(config_path: &str, host: &str, port: u16) -> String {
    format!(
        "echo user=$(id -u); \
         cat '{config_path}' >/dev/null 2>&1 && echo read-config || echo no-config; \
         cat ../other/secret.txt >/dev/null 2>&1 && echo read-other-crew || echo no-other-crew; \
         cat /proc/1/environ /proc/*/environ 2>/dev/null | tr '\\0' '\\n' > /tmp/environ; \
         env >> /tmp/environ; \
         grep -q '{MARKER}\\|{AWS_SECRET}' /tmp/environ && echo saw-runner-env || echo clean-env; \
         (nc -w 2 {host} {port} </dev/null && echo connected-host) 2>/dev/null || echo no-host; \
         (nc -w 2 127.0.0.1 {port} </dev/null && echo connected-loopback) 2>/dev/null || echo no-loopback; \
         echo cwd=$(pwd); cat > /work/message.txt; echo contained > \"$CREWSHIP_RESULT_FILE\"; echo done"
    )
}

/// The engine's default bridge gateway: the host as a container on `bridge` would reach it.
fn bridge_gateway() -> String {
    docker::docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{(index .IPAM.Config 0).Gateway}}",
    ])
    .unwrap_or_else(|_| "172.17.0.1".to_owned())
}

#[tokio::test]
async fn an_agent_in_its_container_reaches_nothing_of_the_host() {
    if !docker::available() {
        return;
    }
    let instance = Instance::new();
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // From the crew directory (<dir>/work/ws/crew) the runner's config file is <dir>/config.toml:
    // a plain agent process reads it by that relative path; the container has no such file.
    let config_path = "../../../config.toml";
    let script = probe_script(config_path, &bridge_gateway(), port);
    let runner = Runner::start_opts(
        &config(&instance, &script),
        &StartOptions {
            env: &[
                ("CREWSHIP_TEST_MARKER", MARKER),
                ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
            ],
            ..StartOptions::default()
        },
    )
    .unwrap();
    // Another crew's file, beside this crew's directory on the host.
    let other = runner.crew_dir("ws", "other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.txt"), "other crew's").unwrap();

    let body = r#"{"event":"push","source":"ci","data":{"n":1}}"#;
    let (status, answer) = runner.trigger("crew", "probe", SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    // Its result file, written as the container's user in the crew directory (docs/results.md).
    assert_eq!(run["result"], "contained\n", "{run}");
    let logs = runner.run_logs("probe", run_id, TOKEN).await.unwrap();
    let lines: Vec<&str> = logs
        .iter()
        .map(|e| e["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        run["status"],
        "COMPLETED",
        "{run} {lines:?} {}",
        runner.output()
    );
    for expected in [
        "user=65534",
        "clean-env",
        "no-host",
        "no-loopback",
        "cwd=/work",
        "done",
    ] {
        assert!(lines.contains(&expected), "{expected} missing: {lines:?}");
    }
    assert!(!lines.contains(&"read-config"), "{lines:?}");
    assert!(lines.contains(&"no-other-crew"), "{lines:?}");
    assert!(lines.contains(&"no-config"), "{lines:?}");
    // The path the agent tried is the runner's config file, as seen from the crew directory.
    assert!(runner.crew_dir("ws", "crew").join(config_path).exists());
    assert!(
        listener.accept().is_err(),
        "the agent reached the test's port"
    );
    // Its message arrived on stdin, into the crew directory the host sees.
    let message =
        std::fs::read_to_string(runner.crew_dir("ws", "crew").join("message.txt")).unwrap();
    assert!(message.contains("Event: push"), "{message}");

    let containers = instance.containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let inspect = |format: &str| docker::docker(&["inspect", "--format", format, &containers[0]]);
    assert_eq!(inspect("{{.HostConfig.Memory}}").unwrap(), "201326592");
    assert_eq!(inspect("{{.HostConfig.NanoCpus}}").unwrap(), "750000000");
    assert_eq!(inspect("{{.HostConfig.PidsLimit}}").unwrap(), "48");
    assert_eq!(inspect("{{.HostConfig.NetworkMode}}").unwrap(), "none");
    assert_eq!(inspect("{{.Config.User}}").unwrap(), "65534:65534");
    assert_eq!(
        inspect("{{index .Config.Labels \"crewship.workspace\"}}.{{index .Config.Labels \"crewship.crew\"}}")
            .unwrap(),
        "ws.crew"
    );
}

/// No agent outlives its runner: SIGKILL the runner mid-run and, within 5 s, nothing of the
/// agent runs in its container any more (the container stops with the runner's lifeline).
#[tokio::test]
async fn a_sigkilled_runners_agents_stop_within_five_seconds() {
    if !docker::available() {
        return;
    }
    let instance = Instance::new();
    let mut runner = Runner::start(&config(&instance, "sleep 300 & echo started; wait")).unwrap();
    let body = r#"{"event":"push","source":"ci","data":{}}"#;
    let (status, answer) = runner.trigger("crew", "probe", SECRET, body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    loop {
        let logs = runner.run_logs("probe", &run_id, TOKEN).await.unwrap();
        if logs.iter().any(|e| e["content"] == "started") {
            break;
        }
        assert!(
            started.elapsed() < LIMIT,
            "the agent never started: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let containers = instance.containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let agent_running = || {
        docker::docker(&["top", &containers[0], "-o", "pid,args"])
            .is_ok_and(|top| top.contains("sleep 300"))
    };
    assert!(agent_running());

    e2e_tests::signal(runner.pid(), "KILL");
    let _ = runner.terminate();
    let killed = std::time::Instant::now();
    while agent_running() {
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "the agent outlived its runner by 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "the agent stopped {:?} after its runner's SIGKILL",
        killed.elapsed()
    );
}

/// The engine client logs request bodies at `debug` (an exec's body holds the agent's
/// environment; before `bollard` was capped in `handler::telemetry` this test saw it): under
/// `RUST_LOG=trace` no secret of the agent reaches a log line.
#[tokio::test]
async fn the_agents_environment_never_reaches_a_log_line_at_trace_level() {
    if !docker::available() {
        return;
    }
    const ENV_VALUE: &str = "docker-env-secret-3c3c3c3c3c3c3c3c";
    let instance = Instance::new();
    let config = config(&instance, "echo \"$API_KEY\" | wc -c").replace(
        "webhook_secret =",
        &format!("env = {{ API_KEY = \"{ENV_VALUE}\" }}\nwebhook_secret ="),
    );
    let runner = Runner::start_opts(
        &config,
        &StartOptions {
            rust_log: Some("trace"),
            ..StartOptions::default()
        },
    )
    .unwrap();
    let (status, answer) = runner
        .trigger("crew", "probe", SECRET, r#"{"event":"push"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let logs = runner.run_logs("probe", run_id, TOKEN).await.unwrap();
    // The agent had it: its length and a newline.
    let expected = (ENV_VALUE.len() + 1).to_string();
    assert!(logs.iter().any(|e| e["content"] == expected), "{logs:?}");
    let output = runner.output();
    assert!(!output.contains(ENV_VALUE), "the agent's secret was logged");
}
