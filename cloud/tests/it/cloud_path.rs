//! The whole cloud path on one machine: `crewship-server` and two `crewship-executor`
//! processes on DynamoDB, SQS and S3 served by moto, with real signed webhooks and real agent
//! processes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crewship_aws::config::build_ports_with;
use crewship_core::agent::Agent;
use crewship_core::ids::RunId;
use crewship_core::ports::Ports;
use crewship_core::run::RunStatus;
use crewship_core::secret::Secret;
use crewship_core::signer::Signer;
use crewship_test_support::AgentBuilder;

use crate::common::{Cloud, Moto, provision};
use crate::procs::Proc;

const SECRET: &str = "cloud-secret-0123456789abcdef0123456789abcdef";
const INTERNAL: &str = "internal-token";

fn sign(body: &str) -> String {
    Signer::new(SECRET).signature(body.as_bytes())
}

/// Writes `marker-N <executor pid>` to `ran` once per execution, then works for a second.
fn agent(ran: &std::path::Path) -> Agent {
    let mut agent = base_agent();
    agent.command = vec![
        "sh".into(),
        "-c".into(),
        r#"m=$(printf '%s' "$CREWSHIP_MESSAGE" | grep -o 'marker-[0-9]*' | head -n 1); echo "$m $PPID" >> "$RAN_FILE"; sleep 1"#.into(),
    ];
    agent
        .env
        .insert("RAN_FILE".into(), Secret::new(ran.display().to_string()));
    // Above what the two executors can run at once (2 × 8): this test is about lost and
    // duplicated runs, not the agent's cap, whose claims near it are transactions that moto
    // does not isolate from one another (`docs/aws.md`, The agent's cap).
    agent.max_concurrent_runs = 100;
    agent
}

fn base_agent() -> Agent {
    AgentBuilder::new("cloud-agent")
        .name("cloud agent")
        .secret(SECRET)
        .rate_limit_per_min(100000)
        .max_queued_runs(100000)
        .build()
}

fn base_env(moto: &Moto, cloud: &Cloud) -> Vec<(&'static str, String)> {
    let mut env = moto.env();
    env.extend(cloud.env());
    env
}

fn executor_env(moto: &Moto, cloud: &Cloud, work: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut env = base_env(moto, cloud);
    env.extend([
        ("CREWSHIP_WORK_DIR", work.display().to_string()),
        ("CREWSHIP_LEASE_MS", "2000".into()),
        ("CREWSHIP_HEARTBEAT_MS", "300".into()),
        ("CREWSHIP_POLL_WAIT_SECS", "1".into()),
        ("CREWSHIP_MAX_CONCURRENT_RUNS", "8".into()),
    ]);
    env
}

fn server_env(moto: &Moto, cloud: &Cloud) -> Vec<(&'static str, String)> {
    let mut env = base_env(moto, cloud);
    env.extend([
        ("CREWSHIP_LISTEN", "127.0.0.1:0".into()),
        ("CREWSHIP_INTERNAL_TOKEN", INTERNAL.into()),
        ("CREWSHIP_API_TOKENS", "ws=monitor-token".into()),
    ]);
    env
}

async fn trigger(http: &reqwest::Client, base: &str, n: usize) -> (u16, serde_json::Value) {
    let body = format!(r#"{{"event":"marker-{n}","data":{{"n":{n}}}}}"#);
    let response = http
        .post(format!("{base}/api/v1/webhooks/crew/cloud-agent/trigger"))
        .header("content-type", "application/json")
        .header("x-signature", sign(&body))
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn ran_lines(ran: &std::path::Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(ran)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (m, pid) = l.split_once(' ')?;
            Some((m.to_owned(), pid.parse().ok()?))
        })
        .collect()
}

async fn statuses(ports: &Ports, ids: &[RunId]) -> HashMap<RunId, (RunStatus, Option<String>)> {
    let mut out = HashMap::new();
    for id in ids {
        let run = ports
            .runs
            .get(id)
            .await
            .unwrap()
            .expect("accepted runs exist");
        out.insert(id.clone(), (run.status, run.error_message));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_executor_leaves_no_run_unfinished_and_none_runs_twice() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 5, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran.txt");
    ports.agents.put(agent(&ran)).await.unwrap();

    let server = Proc::server(&server_env(&moto, &cloud));
    let mut doomed = Proc::executor(
        &executor_env(&moto, &cloud, &dir.path().join("e1")),
        &dir.path().join("e1.log"),
    );
    let _survivor = Proc::executor(
        &executor_env(&moto, &cloud, &dir.path().join("e2")),
        &dir.path().join("e2.log"),
    );
    let http = reqwest::Client::new();

    let mut accepted = Vec::new();
    let mut killed = false;
    for n in 0..200 {
        let (status, answer) = trigger(&http, &server.base, n).await;
        assert_eq!(status, 202, "webhook {n}: {answer}");
        accepted.push(answer["run_id"].as_str().unwrap().parse::<RunId>().unwrap());
        if n >= 100 && !killed {
            // Mid-way, once one of its agents is at work: SIGKILL, no goodbye.
            let pid = doomed.pid();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !ran_lines(&ran).iter().any(|(_, p)| *p == pid) {
                assert!(Instant::now() < deadline, "executor 1 never ran an agent");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            doomed.kill();
            killed = true;
        }
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    let finals = loop {
        let now = statuses(&ports, &accepted).await;
        if now.values().all(|(s, _)| s.is_terminal()) {
            break now;
        }
        let open = now.values().filter(|(s, _)| !s.is_terminal()).count();
        assert!(
            Instant::now() < deadline,
            "{open} runs still QUEUED or RUNNING"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // None ran twice.
    let lines = ran_lines(&ran);
    let mut seen = HashMap::new();
    for (marker, _) in &lines {
        *seen.entry(marker.clone()).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "ran more than once: {twice:?}");
    // Every run finished: completed by an executor, or swept as lost after its executor died.
    let completed = finals
        .values()
        .filter(|(s, _)| *s == RunStatus::Completed)
        .count();
    let lost = finals
        .values()
        .filter(|(s, e)| *s == RunStatus::Failed && e.as_deref() == Some(executor::EXECUTOR_LOST))
        .count();
    assert_eq!(completed + lost, 200, "{finals:?}");
    assert!(
        lost >= 1,
        "the killed executor's running agent was not swept as lost"
    );
    for (n, id) in accepted.iter().enumerate() {
        if finals[id].0 == RunStatus::Completed {
            assert_eq!(
                seen.get(&format!("marker-{n}")),
                Some(&1),
                "run {n} completed unseen"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_queue_answers_503_and_leaves_no_queued_run() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let cloud = provision(&moto, 5, 5).await;
    let ports = build_ports_with(&cloud.backends(), &cloud.sdk).ports;
    let dir = tempfile::tempdir().unwrap();
    ports
        .agents
        .put(agent(&dir.path().join("ran.txt")))
        .await
        .unwrap();
    let mut env = server_env(&moto, &cloud);
    // Only SQS goes to a port nobody listens on.
    env.push((
        "AWS_ENDPOINT_URL_SQS",
        format!("http://127.0.0.1:{}", crate::common::moto::free_port()),
    ));
    env.push(("AWS_MAX_ATTEMPTS", "1".into()));
    let server = Proc::server(&env);
    let http = reqwest::Client::new();
    let (status, answer) = trigger(&http, &server.base, 1).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "unavailable", "{answer}");
    let agent_id = "cloud-agent".parse().unwrap();
    assert_eq!(
        ports
            .runs
            .count_by_status(&agent_id, RunStatus::Queued)
            .await
            .unwrap(),
        0
    );
    let page = ports
        .runs
        .list_by_agent(&agent_id, &Default::default(), 10, None)
        .await
        .unwrap();
    // The run was stored (DynamoDB was reachable) and then failed, never left QUEUED.
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    assert_eq!(page.items[0].status, RunStatus::Failed);
}
