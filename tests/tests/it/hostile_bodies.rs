//! Signed bodies built to hurt (issue 16): the report's 30,000-level array that aborted the
//! process once the executor rendered it, a body exactly at the nesting limit, and a body of
//! only whitespace. Each is answered as `docs/webhooks.md` says, and the process keeps serving.

use std::time::Duration;

use e2e_tests::{Runner, SECRET, TOKEN};

fn config(max_json_depth: Option<usize>) -> String {
    let depth = max_json_depth.map_or_else(String::new, |d| format!("max_json_depth = {d}"));
    format!(
        r#"
[server]
internal_token = "internal-token"
{depth}

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "cat"]
webhook_secret = "{SECRET}"
"#
    )
}

const LIMIT: Duration = Duration::from_secs(60);

fn nested(open: &str, close: &str, levels: usize) -> String {
    format!(
        "{{\"data\":{}1{}}}",
        open.repeat(levels - 1),
        close.repeat(levels - 1)
    )
}

/// A normal webhook still runs to completion: the process survived what came before.
async fn still_serving(runner: &Runner) {
    let (status, answer) = runner
        .trigger("crew", "echo", SECRET, r#"{"event":"after"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}\n{}", runner.output());
    let run = runner
        .wait_for_run(answer["run_id"].as_str().unwrap(), TOKEN, LIMIT)
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
}

#[tokio::test]
async fn a_body_nested_past_the_limit_is_400_naming_it_and_the_process_serves_on() {
    let runner = Runner::start(&config(None)).unwrap();
    for body in [
        format!("{{\"data\":{}{}}}", "[".repeat(30_000), "]".repeat(30_000)),
        nested("{\"k\":", "}", 30_000),
        nested("[", "]", 129),
    ] {
        let (status, answer) = runner.trigger("crew", "echo", SECRET, &body).await.unwrap();
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "invalid_payload");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains("deeper than 128 levels"), "{message}");
    }
    still_serving(&runner).await;
}

#[tokio::test]
async fn a_body_at_the_limit_runs_and_renders_whole() {
    let runner = Runner::start(&config(Some(1024))).unwrap();
    for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
        let body = nested(open, close, 1024);
        let (status, answer) = runner.trigger("crew", "echo", SECRET, &body).await.unwrap();
        assert_eq!(status, 202, "{answer}");
        let run_id = answer["run_id"].as_str().unwrap();
        let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
        assert_eq!(run["status"], "COMPLETED", "{run}");
        let logs = runner.run_logs("echo", run_id, TOKEN).await.unwrap();
        let data = logs
            .iter()
            .filter_map(|e| e["content"].as_str())
            .find(|l| l.starts_with("Data: "))
            .expect("the message's Data line");
        assert!(
            data.ends_with(&format!("1{}", close.repeat(1023))),
            "{data:.80}"
        );
    }
    let (status, _) = runner
        .trigger("crew", "echo", SECRET, &nested("[", "]", 1025))
        .await
        .unwrap();
    assert_eq!(status, 400);
    still_serving(&runner).await;
}

#[tokio::test]
async fn a_body_of_only_whitespace_is_not_json() {
    let runner = Runner::start(&config(None)).unwrap();
    let (status, answer) = runner
        .trigger("crew", "echo", SECRET, " \n\t ")
        .await
        .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_payload");
    // The empty body is still the empty object.
    let (status, answer) = runner.trigger("crew", "echo", SECRET, "").await.unwrap();
    assert_eq!(status, 202, "{answer}");
    still_serving(&runner).await;
}
