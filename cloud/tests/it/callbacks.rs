//! Completion callbacks from the long-running cloud bins: `crewship-server` takes the webhook,
//! `crewship-executor` runs the agent, writes the callback to the DynamoDB outbox (on moto) and,
//! polling that outbox, delivers it — no callbacks queue consumer is involved — to a receiver
//! the test runs on loopback; the server lists the attempt.

use std::time::{Duration, Instant};

use crewship_aws::config::build_ports_with;
use crewship_core::callback::{Callback, CallbackEvent};
use crewship_core::signer::Signer;
use crewship_test_support::AgentBuilder;
use crewship_test_support::receiver::Receiver;
use standardwebhooks::Webhook;

use crate::common::{Moto, provision};
use crate::procs::Proc;

const SECRET: &str = "cloud-callback-secret-0123456789abcdef0123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_running_executor_delivers_callbacks_from_the_dynamodb_outbox() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 5, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let receiver = Receiver::start(&[]).await.unwrap();
    let mut agent = AgentBuilder::new("called-back").secret(SECRET).build();
    agent.command = vec!["sh".into(), "-c".into(), "echo done".into()];
    agent.callback = Some(Callback {
        url: receiver.url("/hook"),
        events: CallbackEvent::ALL.to_vec(),
        secret: None,
    });
    ports.agents.put(agent).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut env = moto.env();
    env.extend(cloud.env());
    let mut server_env = env.clone();
    server_env.extend([
        ("CREWSHIP_LISTEN", "127.0.0.1:0".into()),
        ("CREWSHIP_INTERNAL_TOKEN", "internal-token".into()),
        ("CREWSHIP_API_TOKENS", "ws=monitor-token".into()),
    ]);
    let server = Proc::server(&server_env);
    env.extend([
        (
            "CREWSHIP_WORK_DIR",
            dir.path().join("work").display().to_string(),
        ),
        ("CREWSHIP_POLL_WAIT_SECS", "1".into()),
        ("CREWSHIP_CALLBACK_ALLOW_PRIVATE", "true".into()),
    ]);
    let _executor = Proc::executor(&env, &dir.path().join("executor.log"));

    let body = r#"{"event":"push"}"#;
    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!(
            "{}/api/v1/webhooks/crew/called-back/trigger",
            server.base
        ))
        .header("content-type", "application/json")
        .header(
            "x-signature",
            Signer::new(SECRET).signature(body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = answer["run_id"].as_str().expect("a run id").to_owned();

    let got = receiver
        .wait_for(1, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("executor.log")).unwrap_or_default();
            panic!("{e}\n{log}")
        });
    Webhook::from_bytes(SECRET.as_bytes().to_vec())
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("signed with the agent's webhook secret");
    let callback: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(callback["type"], "run.completed");
    assert_eq!(callback["data"]["id"], run.as_str());

    // The server reads the attempt back from the outbox.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list: serde_json::Value = http
            .get(format!("{}/api/v1/runs/{run}/callbacks", server.base))
            .bearer_auth("monitor-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list[0]["state"] == "delivered" {
            assert_eq!(list[0]["attempts"][0]["status_code"], 200, "{list}");
            assert_eq!(
                got[0].headers["webhook-id"],
                list[0]["id"].as_str().unwrap()
            );
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(receiver.received().len(), 1, "one callback per run");
}
