//! The agent's environment is built, never inherited (docs/runtimes.md): the runner's own
//! variables (here an `AWS_SECRET_ACCESS_KEY` and a marker) reach no agent's `env`; under the
//! sandbox runtime not even through `/proc/*/environ`, its parent's included.

use crewship_test_support::procs;
use e2e_tests::{Runner, SECRET, StartOptions, TOKEN};

const AWS_MARKER: &str = "aws-secret-marker-7f3e9c1d5b";
const RUNNER_MARKER: &str = "runner-env-marker-2b8a6d4f0e";

fn config(runtime: &str) -> String {
    format!(
        r#"
[executor]
runtime = "{runtime}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "env"
crew_id = "crew"
workspace_id = "ws"
command = ["env"]
env = {{ DECLARED = "declared-value" }}
webhook_secret = "{SECRET}"

[[agents]]
id = "parent"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", '''tr '\0' '\n' < /proc/$PPID/environ && echo parent-readable || echo parent-hidden''']
webhook_secret = "{SECRET}"

[[agents]]
id = "looker"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", '''env; echo ---proc---; for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f"; done; echo ---parent---; tr '\0' '\n' < /proc/$PPID/environ''']
env = {{ DECLARED = "declared-value" }}
webhook_secret = "{SECRET}"
"#
    )
}

/// The lines the agent printed, run by a runner whose environment holds both markers.
async fn agent_lines(runtime: &str, agent: &str) -> (Runner, Vec<String>) {
    agent_lines_under(runtime, agent, &[]).await
}

/// [`agent_lines`] with the runner started under `wrapper`.
async fn agent_lines_under(runtime: &str, agent: &str, wrapper: &[&str]) -> (Runner, Vec<String>) {
    let runner = Runner::start_opts(
        &config(runtime),
        &StartOptions {
            env: &[
                ("AWS_SECRET_ACCESS_KEY", AWS_MARKER),
                ("E2E_RUNNER_MARKER", RUNNER_MARKER),
            ],
            wrapper,
            shared_dir: !wrapper.is_empty(),
            ..StartOptions::default()
        },
    )
    .unwrap();
    let (run, lines) = runner
        .run_to_end("crew", agent, r#"{"event":"env"}"#, TOKEN)
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    (runner, lines)
}

fn assert_no_marker(lines: &[String]) {
    for marker in [AWS_MARKER, RUNNER_MARKER] {
        assert!(
            !lines.iter().any(|l| l.contains(marker)),
            "{marker} reached the agent: {lines:?}"
        );
    }
}

#[tokio::test]
async fn process_agents_get_a_built_environment_and_nothing_of_the_runners() {
    let (runner, lines) = agent_lines("process", "env").await;
    assert_no_marker(&lines);
    let home = format!("HOME={}", runner.crew_dir("ws", "crew").display());
    for expected in [
        "DECLARED=declared-value",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "LANG=C.UTF-8",
        home.as_str(),
    ] {
        assert!(lines.iter().any(|l| l == expected), "{expected}: {lines:?}");
    }
    // Nothing but the built variables: the three defaults, the declared one, the message, how
    // the trigger authenticated (docs/security.md) and where the answer may go (docs/results.md).
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    for name in &names {
        assert!(
            [
                "PATH",
                "HOME",
                "LANG",
                "DECLARED",
                "PWD",
                "CREWSHIP_MESSAGE",
                "CREWSHIP_AUTH_SCHEME",
                "CREWSHIP_AUTH_STRENGTH",
                "CREWSHIP_RESULT_FILE"
            ]
            .contains(name),
            "unexpected variable {name}: {lines:?}"
        );
    }
}

/// Under the process runtime the agent's parent is the runner itself, same user: the runner is
/// non-dumpable, so the kernel refuses its `/proc/<pid>/environ` to the agent. Not to root
/// (`CAP_SYS_PTRACE`): run as root, the test starts the runner as `nobody`.
#[tokio::test]
async fn a_runner_that_is_not_root_hides_its_environment_from_process_agents() {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let wrapper: &[&str] = if root {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
    } else {
        &[]
    };
    let (_runner, lines) = agent_lines_under("process", "parent", wrapper).await;
    assert_no_marker(&lines);
    assert!(lines.iter().any(|l| l == "parent-hidden"), "{lines:?}");
}

#[tokio::test]
async fn sandboxed_agents_see_nothing_of_the_runners_environment_even_in_proc() {
    if !procs::bwrap_available() {
        return;
    }
    let (_runner, lines) = agent_lines("sandbox", "looker").await;
    assert_no_marker(&lines);
    let proc_part = lines
        .iter()
        .skip_while(|l| *l != "---proc---")
        .collect::<Vec<_>>();
    // The reads worked: the sandbox's own processes carry the agent's variables.
    assert!(
        proc_part.iter().any(|l| *l == "DECLARED=declared-value"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "HOME=/work"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "---parent---"), "{lines:?}");
}
