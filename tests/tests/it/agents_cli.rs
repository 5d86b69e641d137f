//! The management CLI against the real binary: register an agent with `agents put`, rotate its
//! secret with `secret rotate`, trigger it with `trigger`, read the run back — every command a
//! child process configured through environment variables, secrets never on its command line.

use std::time::Duration;

use e2e_tests::cli::run_cli;
use e2e_tests::{Runner, TOKEN};

const INTERNAL: &str = "internal-token-for-cli";

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "{INTERNAL}"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[tokens]]
token = "other-token"
workspace_id = "other"
"#
    )
}

const AGENT: &str = r#"
id = "reviewer"
crew_id = "crew"
workspace_id = "ws"
name = "PR reviewer"
command = ["sh", "-c", "echo reviewer-ran; cat"]
env = { API_KEY = "env-credential-value" }
"#;

#[tokio::test]
async fn put_rotate_trigger_and_read_the_run_back() {
    let runner = Runner::start(&config()).unwrap();
    let file = runner.dir.path().join("agent.toml");
    std::fs::write(&file, AGENT).unwrap();
    let file = file.to_str().unwrap();
    let admin = [
        ("CREWSHIP_URL", runner.base.as_str()),
        ("CREWSHIP_INTERNAL_TOKEN", INTERNAL),
    ];

    let put = run_cli(&["agents", "put", file], &admin).await.unwrap();
    assert!(put.success, "{put:?}");
    let created = put.json().unwrap();
    let first = created["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 64);
    assert!(put.stderr.contains("created") && put.stderr.contains("shown this once"));

    let again = run_cli(&["agents", "put", file], &admin).await.unwrap();
    assert!(
        again.success && again.stderr.contains("replaced"),
        "{again:?}"
    );
    assert!(again.json().unwrap().get("webhook_secret").is_none());

    let shown = run_cli(&["agents", "get", "reviewer"], &admin)
        .await
        .unwrap();
    let shown = shown.json().unwrap();
    assert_eq!(shown["webhook_secret_set"], true);
    assert_eq!(shown["env_keys"], serde_json::json!(["API_KEY"]));
    let listed = run_cli(&["agents", "list", "--crew", "crew"], &admin)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed[0]["id"], "reviewer");

    let other = [
        ("CREWSHIP_URL", runner.base.as_str()),
        ("CREWSHIP_TOKEN", "other-token"),
    ];
    let refused = run_cli(&["secret", "rotate", "reviewer"], &other)
        .await
        .unwrap();
    assert!(
        !refused.success && refused.stderr.contains("404"),
        "{refused:?}"
    );

    let owner = [
        ("CREWSHIP_URL", runner.base.as_str()),
        ("CREWSHIP_TOKEN", TOKEN),
    ];
    let rotated = run_cli(&["secret", "rotate", "reviewer"], &owner)
        .await
        .unwrap();
    assert!(rotated.success, "{rotated:?}");
    let second = rotated.json().unwrap()["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);

    let trigger = run_cli(
        &[
            "trigger", "--agent", "reviewer", "--crew", "crew", "--event", "push", "--wait",
        ],
        &[
            ("CREWSHIP_URL", runner.base.as_str()),
            ("CREWSHIP_TOKEN", TOKEN),
            ("CREWSHIP_WEBHOOK_SECRET", second.as_str()),
        ],
    )
    .await
    .unwrap();
    assert!(trigger.success, "{trigger:?}");
    let run_id = trigger.stdout.lines().next().unwrap().trim().to_owned();
    assert!(trigger.stdout.contains("reviewer-ran"), "{trigger:?}");
    assert!(trigger.stdout.contains("COMPLETED"), "{trigger:?}");

    let run = runner
        .wait_for_run(&run_id, TOKEN, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["agent_id"], "reviewer");
    assert_eq!(run["event"], "push");
    let logs = runner.run_logs("reviewer", &run_id, TOKEN).await.unwrap();
    assert_eq!(logs[0]["content"], "reviewer-ran");

    // The old secret still verifies during the grace period, read from a file this time.
    let old = runner.dir.path().join("old.secret");
    std::fs::write(&old, &first).unwrap();
    let with_old = run_cli(
        &[
            "trigger",
            "--agent",
            "reviewer",
            "--crew",
            "crew",
            "--secret-file",
            old.to_str().unwrap(),
        ],
        &[("CREWSHIP_URL", runner.base.as_str())],
    )
    .await
    .unwrap();
    assert!(with_old.success, "{with_old:?}");

    let deleted = run_cli(&["agents", "delete", "reviewer"], &admin)
        .await
        .unwrap();
    assert!(deleted.success, "{deleted:?}");
    let refused = run_cli(
        &["trigger", "--agent", "reviewer", "--crew", "crew"],
        &[
            ("CREWSHIP_URL", runner.base.as_str()),
            ("CREWSHIP_WEBHOOK_SECRET", second.as_str()),
        ],
    )
    .await
    .unwrap();
    assert!(
        !refused.success && refused.stderr.contains("401"),
        "{refused:?}"
    );

    let server_output = runner.output();
    assert!(
        server_output.contains("agent registered"),
        "{server_output}"
    );
    for secret in [&first, &second, "env-credential-value"] {
        assert!(!server_output.contains(secret), "{server_output}");
    }
}

#[tokio::test]
async fn management_commands_explain_a_missing_token_and_a_bad_file() {
    let runner = Runner::start(&config()).unwrap();
    let no_token = run_cli(
        &["agents", "get", "x"],
        &[("CREWSHIP_URL", runner.base.as_str())],
    )
    .await
    .unwrap();
    assert!(!no_token.success);
    assert!(
        no_token.stderr.contains("CREWSHIP_INTERNAL_TOKEN"),
        "{no_token:?}"
    );

    let file = runner.dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "id = \"x\"\ncrew_id = \"c\"\nworkspace_id = \"w\"\nadapter = \"gpt\"\n",
    )
    .unwrap();
    let bad = run_cli(
        &["agents", "put", file.to_str().unwrap()],
        &[
            ("CREWSHIP_URL", runner.base.as_str()),
            ("CREWSHIP_INTERNAL_TOKEN", INTERNAL),
        ],
    )
    .await
    .unwrap();
    assert!(!bad.success);
    assert!(
        bad.stderr.contains("400") && bad.stderr.contains("adapter"),
        "{bad:?}"
    );
}
