//! A run's `result` and `usage` (docs/results.md), end to end on the real binary: what a
//! `command` agent writes to `CREWSHIP_RESULT_FILE` under the process and sandbox runtimes, and
//! claude-code's final `result` line (a stand-in `claude` that prints a recorded session),
//! in the run record and in the `run.completed` frame. A file the agent turned into a link, or
//! too long an answer, shows the reading is careful and bounded.

use std::time::Duration;

use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::{Value, json};

/// A recorded claude-code session; its last line is the `result` line with the cost.
const SESSION: &str = include_str!("../../../executor/tests/fixtures/claude-stream.jsonl");

/// `claude` is a stand-in script at `claude`, an absolute path (claude-code's `command` names
/// the program only).
fn config(runtime: &str, claude: &str) -> String {
    format!(
        r#"
[executor]
runtime = "{runtime}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "writer"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo working; printf 'the answer: %s\n' 42 > \"$CREWSHIP_RESULT_FILE\""]
webhook_secret = "{SECRET}"

[[agents]]
id = "long"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' 'x' > \"$CREWSHIP_RESULT_FILE\""]
webhook_secret = "{SECRET}"

[[agents]]
id = "linker"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "ln -s /etc/passwd \"$CREWSHIP_RESULT_FILE\"; echo linked"]
webhook_secret = "{SECRET}"

[[agents]]
id = "claude"
crew_id = "crew"
workspace_id = "ws"
adapter = "claude-code"
command = ["{claude}"]
webhook_secret = "{SECRET}"
"#
    )
}

async fn finished(runner: &Runner, agent: &str) -> Value {
    let (run, _) = runner.run_to_end("crew", agent, "{}", TOKEN).await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    run
}

fn leftovers(runner: &Runner) -> Vec<String> {
    std::fs::read_dir(runner.crew_dir("ws", "crew"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".crewship-result"))
        .collect()
}

async fn the_result_file_becomes_the_runs_result(runtime: &str) {
    let runner = Runner::start(&config(runtime, "/bin/false")).unwrap();
    let mut client = runner.ws_subscribed(TOKEN, "ws").await.unwrap();
    let (status, answer) = runner
        .trigger("crew", "writer", SECRET, "{}")
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    let frames = tokio::time::timeout(Duration::from_secs(60), client.run_frames(run_id))
        .await
        .expect("the run's frames within a minute")
        .unwrap();
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "run.completed", "{last}");
    assert_eq!(last["payload"]["result"], "the answer: 42\n", "{last}");

    let run = runner
        .wait_for_run(run_id, TOKEN, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(run["result"], "the answer: 42\n", "{run}");
    assert_eq!(
        run["usage"],
        Value::Null,
        "a command agent reports no cost: {run}"
    );
    assert_eq!(
        leftovers(&runner),
        Vec::<String>::new(),
        "the file is removed"
    );
}

#[tokio::test]
async fn a_command_agents_result_file_is_its_result_under_the_process_runtime() {
    the_result_file_becomes_the_runs_result("process").await;
}

#[tokio::test]
async fn a_command_agents_result_file_is_its_result_in_the_sandbox() {
    the_result_file_becomes_the_runs_result("sandbox").await;
}

#[tokio::test]
async fn claude_codes_result_line_becomes_result_and_usage() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.jsonl");
    std::fs::write(&session, SESSION).unwrap();
    let claude = dir.path().join("claude");
    let script = format!("#!/bin/sh\ncat '{}'\n", session.display());
    std::fs::write(&claude, script).unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runner = Runner::start(&config("process", claude.to_str().unwrap())).unwrap();
    let run = finished(&runner, "claude").await;
    assert_eq!(run["result"], "The last commit is the walking skeleton.");
    assert_eq!(
        run["usage"],
        json!({"cost_usd": 0.0212, "input_tokens": 22, "output_tokens": 175, "num_turns": 5})
    );
}

#[tokio::test]
async fn long_answers_are_cut_and_linked_files_are_not_read() {
    let runner = Runner::start(&config("process", "/bin/false")).unwrap();
    let long = finished(&runner, "long").await;
    let result = long["result"].as_str().unwrap();
    assert_eq!(result.len(), 64 * 1024);
    assert!(result.bytes().all(|b| b == b'x'));

    let (run, lines) = runner
        .run_to_end("crew", "linker", "{}", TOKEN)
        .await
        .unwrap();
    assert_eq!(
        run["status"], "COMPLETED",
        "a bad result file does not fail the run"
    );
    assert_eq!(run["result"], Value::Null, "{run}");
    assert!(
        lines.iter().any(|l| l.contains("result file was not read")),
        "{lines:?}"
    );
    assert_eq!(
        leftovers(&runner),
        Vec::<String>::new(),
        "the link is removed"
    );
}
