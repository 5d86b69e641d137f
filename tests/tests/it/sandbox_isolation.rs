//! The sandbox runtime's isolation, end to end from a signed webhook (docs/runtimes.md): the
//! agent cannot read the runner's configuration file or another crew's directory, and cannot
//! connect to a port the test listens on at 127.0.0.1; it can write its own crew directory.
//! The same probe under the process runtime sees all of it, which shows the probe can fail.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

use crewship_test_support::procs;
use e2e_tests::{Runner, SECRET, TOKEN};

fn config(runtime: &str) -> String {
    format!(
        r#"
[executor]
runtime = "{runtime}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "prober"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "probe.sh"]
webhook_secret = "{SECRET}"
"#
    )
}

/// What the probe found, one word per attempt.
struct Found {
    lines: Vec<String>,
    connected: bool,
}

async fn probe(runtime: &str) -> Found {
    let runner = Runner::start(&config(runtime)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let other = runner.crew_dir("ws", "other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "the other crew's notes").unwrap();
    let own = runner.crew_dir("ws", "crew");
    std::fs::create_dir_all(&own).unwrap();
    let config_file = runner.dir.path().join("config.toml");
    std::fs::write(
        own.join("probe.sh"),
        format!(
            r#"cat '{config}' >/dev/null 2>&1 && echo config-readable || echo config-hidden
cat '{other}/notes.txt' >/dev/null 2>&1 && echo other-crew-readable || echo other-crew-hidden
bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo connected || echo connect-failed
echo mine > mine.txt && cat mine.txt
"#,
            config = config_file.display(),
            other = other.display(),
        ),
    )
    .unwrap();
    let (run, lines) = runner
        .run_to_end("crew", "prober", r#"{"event":"probe"}"#, TOKEN)
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run} {}", runner.output());
    assert_eq!(
        std::fs::read_to_string(own.join("mine.txt")).unwrap(),
        "mine\n"
    );
    Found {
        lines,
        connected: listener.accept().is_ok(),
    }
}

#[tokio::test]
async fn a_sandboxed_agent_sees_only_its_crew_directory_and_no_network() {
    if !procs::bwrap_available() {
        return;
    }
    let found = probe("sandbox").await;
    for expected in [
        "config-hidden",
        "other-crew-hidden",
        "connect-failed",
        "mine",
    ] {
        assert!(
            found.lines.iter().any(|l| l == expected),
            "{expected}: {:?}",
            found.lines
        );
    }
    assert!(!found.connected, "the agent reached the test's port");
}

#[tokio::test]
async fn the_same_probe_under_the_process_runtime_sees_everything() {
    let found = probe("process").await;
    for expected in [
        "config-readable",
        "other-crew-readable",
        "connected",
        "mine",
    ] {
        assert!(
            found.lines.iter().any(|l| l == expected),
            "{expected}: {:?}",
            found.lines
        );
    }
    assert!(found.connected);
}

/// A host whose kernel refuses unprivileged user namespaces cannot be made here without
/// changing the machine for every other process: a `bwrap` that answers as bubblewrap does
/// there stands in for it. The runner must not start, and must say why.
#[tokio::test]
async fn a_host_that_cannot_sandbox_stops_the_start_naming_the_cause() {
    let fake = tempfile::tempdir().unwrap();
    let bwrap = fake.path().join("bwrap");
    std::fs::write(
        &bwrap,
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&bwrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let error = Runner::start_opts(
        &config("sandbox"),
        &e2e_tests::StartOptions {
            env: &[("PATH", &path)],
            ..e2e_tests::StartOptions::default()
        },
    )
    .err()
    .expect("the runner must not start")
    .to_string();
    assert!(
        error.contains("No permissions to create new namespace"),
        "{error}"
    );
    assert!(error.contains("user namespaces"), "{error}");
}
