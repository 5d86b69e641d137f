//! One signed webhook through all three functions: `handler-lambda` answers `202` and queues
//! the run, `executor-lambda` runs the agent (a real child process) from the SQS event, the run
//! reads back COMPLETED with its log lines, and a WebSocket client subscribed through
//! `ws-lambda` was posted `run.started`, the `agent.log` lines and `run.completed`.

use std::time::Duration;

use crewship_test_support::fixture::TOKEN;
use serde_json::{Value, json};

use crate::api_gateway::{connect, message};
use crate::event_source::EventSource;
use crate::http::{all_finished, log_lines, register_agent, run, trigger};
use crate::stack::{Stack, WORKSPACE};

fn frames_of<'a>(frames: &'a [Value], kind: &str, run_id: &str) -> Vec<&'a Value> {
    frames
        .iter()
        .filter(|f| f["type"] == kind)
        .filter(|f| f["payload"]["run_id"] == run_id || f["payload"]["id"] == run_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_webhook_completes_through_the_three_functions_and_a_subscriber_sees_it_live() {
    let mut stack = Stack::start(1).await;
    let lambda = stack.lambda.clone();
    let agent = crate::command_agent("echo", "echo 'line one'; echo 'line two'", 1);
    let secret = register_agent(&lambda, &agent).await;

    // A client connects with its monitoring token and subscribes to the workspace.
    let channel = format!("workspace:{WORKSPACE}");
    stack.gateway.open("conn-1=");
    let connected = lambda.invoke("ws-lambda", &connect("conn-1=", TOKEN)).await;
    assert_eq!(connected["statusCode"], 200, "{connected}");
    let subscribe = json!({"type": "subscribe", "channel": channel});
    lambda
        .invoke("ws-lambda", &message("conn-1=", &subscribe))
        .await;
    let replies = stack.gateway.posted_to("conn-1=");
    assert!(
        replies
            .iter()
            .any(|f| f["type"] == "subscribed" && f["channel"] == channel),
        "{replies:?}"
    );

    let id = trigger(&lambda, "crew", "echo", &secret, 1).await;
    assert_eq!(run(&lambda, &id).await["status"], "QUEUED");
    let events = EventSource {
        sqs: aws_sdk_sqs::Client::new(&stack.cloud.sdk),
        queue_url: stack.cloud.queue.queue.clone(),
        lambda: lambda.clone(),
        function: "executor-lambda",
        concurrency: 2,
    };
    let ids = [id.clone()];
    let seen = events
        .drive(Duration::from_secs(60), || all_finished(&lambda, &ids))
        .await;

    let finished = run(&lambda, &id).await;
    assert_eq!(
        finished["status"],
        "COMPLETED",
        "{finished}\n{}",
        stack.report()
    );
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(seen.invocations, 1, "{seen:?}");
    let lines = log_lines(&lambda, "echo", &id).await;
    for line in ["line one", "line two"] {
        assert!(lines.iter().any(|l| l == line), "{line:?} not in {lines:?}");
    }

    let frames = stack.gateway.posted_to("conn-1=");
    assert_eq!(
        frames_of(&frames, "run.started", &id).len(),
        1,
        "{frames:?}"
    );
    assert_eq!(
        frames_of(&frames, "run.completed", &id).len(),
        1,
        "{frames:?}"
    );
    let live: Vec<&str> = frames_of(&frames, "agent.log", &id)
        .iter()
        .filter_map(|f| f["payload"]["content"].as_str())
        .collect();
    assert_eq!(live, ["line one", "line two"], "{frames:?}");
    assert!(frames.iter().all(|f| f["channel"] == channel), "{frames:?}");
}
