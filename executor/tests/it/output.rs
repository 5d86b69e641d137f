//! Agent output on real child processes: every line, in order, numbered, to the log sink and
//! the live channel; long lines split; credentials only in the environment; claude-code's
//! stream-json read into events.

use std::path::Path;

use crewship_core::agent::Adapter;
use crewship_core::log::Stream;
use crewship_core::retention::LogCap;
use crewship_core::run::RunStatus;
use crewship_core::secret::Secret;
use executor::runtime::lines::MAX_LINE_BYTES;

use crate::common::{Harness, agent, contents, fast_config, script_agent, write_script};

#[tokio::test]
async fn a_hundred_thousand_quick_lines_all_arrive_in_order() {
    const N: u64 = 100_000;
    let a = script_agent("chatty", "seq 1 100000; seq 1 1000 >&2");
    let mut config = fast_config();
    // Above the default cap: every line is kept (the cap has its own test, retention.rs).
    config.log_cap = LogCap {
        max_lines: 1_000_000,
        max_bytes: 100_000_000,
    };
    let h = Harness::new(vec![a.clone()], config);
    let mut live = h.memory.hub.subscribe(&a.workspace_id, 200_000);
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    assert_eq!(h.run(&id).await.status, RunStatus::Completed);

    let logs = h.logs(&a, &id).await;
    let seqs: Vec<u64> = logs.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gaps");
    let numbers = |stream: Stream| -> Vec<u64> {
        logs.iter()
            .filter(|e| e.stream == stream)
            .map(|e| e.content.parse().unwrap())
            .collect()
    };
    assert_eq!(numbers(Stream::Stdout), (1..=N).collect::<Vec<_>>());
    assert_eq!(numbers(Stream::Stderr), (1..=1000).collect::<Vec<_>>());

    // The live channel saw the same entries in the same order.
    let mut live_seqs = Vec::new();
    while let Ok(frame) = live.rx.try_recv() {
        if frame.run_id.as_ref() == Some(&id)
            && let Some(seq) = frame.seq
        {
            live_seqs.push(seq);
        }
    }
    assert_eq!(live_seqs, seqs);
}

#[tokio::test]
async fn lines_longer_than_64_kib_are_split_not_dropped() {
    let a = script_agent(
        "wide",
        "head -c 200000 /dev/zero | tr '\\0' x; echo; echo after",
    );
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let logs = h.logs(&a, &id).await;
    let lines = contents(&logs);
    assert_eq!(lines.last(), Some(&"after"));
    let pieces = &lines[..lines.len() - 1];
    assert!(pieces.len() >= 4, "{} pieces", pieces.len());
    assert!(pieces.iter().all(|p| p.len() <= MAX_LINE_BYTES));
    assert_eq!(pieces.concat(), "x".repeat(200_000));
}

#[tokio::test]
async fn credentials_reach_the_agent_as_environment_and_never_a_log_line() {
    const VALUE: &str = "sk-test-credential-9f8e7d6c";
    let mut a = script_agent(
        "creds",
        "if [ \"$API_KEY\" = sk-test-credential-9f8e7d6c ]; then echo key-present; fi; \
         printf '%s' \"$API_KEY\" | wc -c",
    );
    a.env.insert("API_KEY".into(), Secret::new(VALUE));
    let h = Harness::new(vec![a.clone()], fast_config());
    let mut live = h.memory.hub.subscribe(&a.workspace_id, 1000);
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let logs = h.logs(&a, &id).await;
    let lines = contents(&logs);
    assert!(lines.contains(&"key-present"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains(VALUE)));
    while let Ok(frame) = live.rx.try_recv() {
        assert!(!frame.json.contains(VALUE), "{}", frame.json);
    }
    assert!(!serde_json::to_string(&run).unwrap().contains(VALUE));
}

/// A stand-in for `claude` that records its argv and prints a recorded stream-json session.
fn fake_claude(dir: &Path, fixture: &str) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let script = write_script(
        dir,
        "fake-claude",
        &format!(
            "for arg in \"$@\"; do printf '%s\\n' \"$arg\"; done > args.txt\n\
             echo 'a warning on stderr' >&2\n\
             cat '{}'\n\
             echo 'not json at all'",
            fixture.display()
        ),
    );
    script.to_string_lossy().into_owned()
}

#[tokio::test]
async fn claude_code_stream_json_becomes_typed_log_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = agent("claude", &[&fake_claude(dir.path(), "claude-stream.jsonl")]);
    a.adapter = Adapter::ClaudeCode;
    a.model = Some("claude-sonnet-4".into());
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error_message);
    assert_eq!(
        run.result.as_deref(),
        Some("The last commit is the walking skeleton.")
    );
    let usage = run.usage.expect("the result line's cost");
    assert_eq!(
        (
            usage.cost_usd,
            usage.input_tokens,
            usage.output_tokens,
            usage.num_turns
        ),
        (Some(0.0212), Some(22), Some(175), Some(5))
    );

    let args = std::fs::read_to_string(h.crew_dir().join("args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        &args[..7],
        [
            "--print",
            "--output-format",
            "stream-json",
            "--verbose",
            "--model",
            "claude-sonnet-4",
            "--"
        ]
    );
    assert!(
        args[7..].join("\n").contains("Event: push"),
        "the message follows `--`"
    );

    let logs = h.logs(&a, &id).await;
    let stdout: Vec<(&str, &str, &str)> = logs
        .iter()
        .filter(|e| e.stream == Stream::Stdout)
        .map(|e| (e.event.as_str(), e.level.as_str(), e.content.as_str()))
        .collect();
    assert_eq!(
        stdout,
        [
            (
                "system",
                "debug",
                "claude-code init (model claude-sonnet-4-20250514)"
            ),
            ("text", "info", "I'll look at the repository first."),
            (
                "tool_call",
                "info",
                r#"Bash {"command":"git log --oneline -3","description":"Show recent commits"}"#
            ),
            (
                "tool_result",
                "info",
                "6a2ab15 Walking skeleton\n1f3e2d0 Initial commit"
            ),
            (
                "tool_call",
                "info",
                r#"Read {"file_path":"/work/crew/missing.md"}"#
            ),
            ("tool_result", "error", "File does not exist."),
            ("text", "info", "The last commit is the walking skeleton."),
            ("result", "info", "The last commit is the walking skeleton."),
            ("output", "info", "not json at all"),
        ]
    );
    let warning = logs.iter().find(|e| e.stream == Stream::Stderr).unwrap();
    assert_eq!(
        (warning.event.as_str(), warning.content.as_str()),
        ("output", "a warning on stderr")
    );
}

#[tokio::test]
async fn claude_code_result_with_is_error_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = agent(
        "claude",
        &[&fake_claude(dir.path(), "claude-stream-error.jsonl")],
    );
    a.adapter = Adapter::ClaudeCode;
    let h = Harness::new(vec![a.clone()], fast_config());
    let id = h.enqueue(&a, "push").await;
    h.executor.process_next().await.unwrap();
    let run = h.run(&id).await;
    // The fake exits 0, as claude-code can after a failed session.
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(
        run.error_message.as_deref(),
        Some("claude-code reported an error: API Error: 529 Overloaded")
    );
    let logs = h.logs(&a, &id).await;
    assert!(
        logs.iter()
            .any(|e| e.event == "result" && e.level == "error"),
        "{logs:?}"
    );
    let args = std::fs::read_to_string(h.crew_dir().join("args.txt")).unwrap();
    assert!(!args.contains("--model"), "no model configured: {args}");
}
