//! Every common sender without a proxy (issue 21), end to end on the real binary: one agent with
//! several sources accepts each sender's request, refuses one signed with another source's
//! secret, answers Slack's challenge without a run, and the run records how it was
//! authenticated — which the agent sees in its environment.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crewship_core::signature::hmac_sha256;
use crewship_core::signer::Signer;
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::Value;

const STRIPE: &str = "whsec_stripe_e2e_0123456789abcdef";
const SLACK: &str = "slack-signing-secret-0123456789";
/// `whsec_` + base64 of the bytes 0..24, as Svix issues secrets.
const SVIX: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
const GITLAB: &str = "gitlab-token-e2e-0123456789";
const BEARER: &str = "alertmanager-token-e2e-0123";
const LIMIT: Duration = Duration::from_secs(60);

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "multi"
crew_id = "crew"
workspace_id = "ws"
min_auth_strength = "static"
command = ["sh", "-c", "echo \"auth=$CREWSHIP_AUTH_SCHEME/$CREWSHIP_AUTH_STRENGTH\""]
webhook_secret = "{SECRET}"
sources = [
  {{ kind = "stripe", secret = "{STRIPE}" }},
  {{ kind = "slack", secret = "{SLACK}" }},
  {{ kind = "svix", secret = "{SVIX}" }},
  {{ kind = "gitlab", secret = "{GITLAB}" }},
  {{ kind = "bearer", secret = "{BEARER}" }},
]

[[agents]]
id = "strict"
crew_id = "crew"
workspace_id = "ws"
command = ["true"]
webhook_secret = "{SECRET}"
sources = [{{ kind = "gitlab", secret = "{GITLAB}" }}]
"#
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hex_hmac(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(key, parts))
}

/// The request each sender makes for `body`, signed with `secret`.
fn signed(kind: &str, secret: &str, body: &str) -> Vec<(&'static str, String)> {
    let ts = now().to_string();
    match kind {
        "stripe" => vec![(
            "stripe-signature",
            format!(
                "t={ts},v1={}",
                hex_hmac(secret.as_bytes(), &[ts.as_bytes(), b".", body.as_bytes()])
            ),
        )],
        "slack" => vec![
            ("x-slack-request-timestamp", ts.clone()),
            (
                "x-slack-signature",
                format!(
                    "v0={}",
                    hex_hmac(
                        secret.as_bytes(),
                        &[b"v0:", ts.as_bytes(), b":", body.as_bytes()]
                    )
                ),
            ),
        ],
        "svix" => {
            let key: Vec<u8> = (0u8..24).collect();
            let key = if secret == SVIX {
                key
            } else {
                secret.as_bytes().to_vec()
            };
            vec![
                ("svix-id", "msg_e2e".to_owned()),
                ("svix-timestamp", ts.clone()),
                (
                    "svix-signature",
                    Signer::new(&key[..]).standard_webhooks("msg_e2e", &ts, body.as_bytes()),
                ),
            ]
        }
        "gitlab" => vec![
            ("x-gitlab-token", secret.to_owned()),
            ("x-gitlab-event", "Push Hook".to_owned()),
        ],
        "bearer" => vec![("authorization", format!("Bearer {secret}"))],
        _ => unreachable!(),
    }
}

async fn send(
    runner: &Runner,
    agent: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, Value) {
    let mut request = runner
        .http
        .post(runner.trigger_url("crew", agent))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_agent_takes_every_sender_it_lists_and_only_with_each_ones_secret() {
    let runner = Runner::start(&config()).unwrap();
    let cases = [
        (
            "stripe",
            STRIPE,
            r#"{"id":"evt_e2e","type":"invoice.paid","data":{"object":{}}}"#,
            "invoice.paid",
            "stripe",
            "timestamped",
        ),
        (
            "slack",
            SLACK,
            r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}"#,
            "app_mention",
            "slack",
            "timestamped",
        ),
        (
            "svix",
            SVIX,
            r#"{"type":"user.created","data":{"id":"u1"}}"#,
            "user.created",
            "svix",
            "timestamped",
        ),
        (
            "gitlab",
            GITLAB,
            r#"{"object_kind":"push"}"#,
            "Push Hook",
            "gitlab",
            "static",
        ),
        (
            "bearer",
            BEARER,
            r#"{"status":"firing","alerts":[{"labels":{}}]}"#,
            "alert.firing",
            "alertmanager",
            "static",
        ),
    ];
    for (kind, secret, body, event, source, strength) in cases {
        // Another source's secret never verifies.
        let other = if kind == "stripe" { SLACK } else { STRIPE };
        let (status, answer) = send(&runner, "multi", &signed(kind, other, body), body).await;
        assert_eq!(status, 401, "{kind} with another secret: {answer}");
        assert_eq!(answer["error"], "invalid_credentials");

        let (status, answer) = send(&runner, "multi", &signed(kind, secret, body), body).await;
        assert_eq!(status, 202, "{kind}: {answer}");
        let run_id = answer["run_id"].as_str().unwrap();
        let run = runner.wait_for_run(run_id, TOKEN, LIMIT).await.unwrap();
        assert_eq!(run["status"], "COMPLETED", "{run}");
        assert_eq!(
            (run["event"].as_str(), run["source"].as_str()),
            (Some(event), Some(source)),
            "{run}"
        );
        assert_eq!(run["auth_scheme"], kind);
        assert_eq!(run["auth_strength"], strength);
        let logs = runner.run_logs("multi", run_id, TOKEN).await.unwrap();
        let seen = format!("auth={kind}/{strength}");
        assert!(
            logs.iter().any(|e| e["content"] == seen.as_str()),
            "{kind}: {logs:?}"
        );
    }
}

#[tokio::test]
async fn slacks_challenge_is_answered_without_a_run_and_weak_auth_is_refused() {
    let runner = Runner::start(&config()).unwrap();
    let body = r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, answer) = send(&runner, "multi", &signed("slack", SLACK, body), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let (_, runs) = runner
        .get_json("/api/v1/agents/multi/runs", TOKEN)
        .await
        .unwrap();
    assert_eq!(runs, Value::Array(vec![]), "the challenge created a run");
    // An unsigned challenge is no challenge.
    let (status, _) = send(
        &runner,
        "multi",
        &signed("slack", "not-the-secret-at-all", body),
        body,
    )
    .await;
    assert_eq!(status, 401);

    // A static token for an agent whose minimum is `signed` (the default).
    let push = r#"{"object_kind":"push"}"#;
    let (status, answer) = send(&runner, "strict", &signed("gitlab", GITLAB, push), push).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "auth_too_weak");
    assert!(
        answer["message"].as_str().unwrap().contains("signed"),
        "{answer}"
    );
}

#[tokio::test]
async fn github_form_encoded_hooks_verify_over_the_raw_form() {
    let runner = Runner::start(&config()).unwrap();
    let form = "payload=%7B%22action%22%3A%22opened%22%2C%22number%22%3A7%7D";
    let signature = Signer::new(SECRET).github(form.as_bytes());
    let response = runner
        .http
        .post(runner.trigger_url("crew", "multi"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-hub-signature-256", signature)
        .header("x-github-event", "pull_request")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let run = runner
        .wait_for_run(answer["run_id"].as_str().unwrap(), TOKEN, LIMIT)
        .await
        .unwrap();
    assert_eq!(run["event"], "pull_request.opened", "{run}");
    assert_eq!(run["payload"]["number"], 7, "{run}");
}

/// `PUT /api/v1/agents/multi/sources/0/secret` (the Stripe source) with the caller's token.
async fn replace_source_secret(
    runner: &Runner,
    token: &str,
    index: &str,
    body: &str,
) -> (u16, Value) {
    let response = runner
        .http
        .put(format!(
            "{}/api/v1/agents/multi/sources/{index}/secret",
            runner.base
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const NEW_STRIPE: &str = "whsec_stripe_e2e_rolled_0123456789";

#[tokio::test]
async fn a_sources_new_secret_leaves_the_old_one_its_grace_period() {
    for (grace, old_verifies) in [(3600, true), (0, false)] {
        let config = config().replacen(
            "[server]\n",
            &format!("[server]\nsecret_rotation_grace_secs = {grace}\n"),
            1,
        );
        let runner = Runner::start(&config).unwrap();
        let before = stripe_source(&runner).await;
        let body = format!(r#"{{"secret":"{NEW_STRIPE}"}}"#);
        for (token, index, body, status) in [
            ("no-such-token", "0", body.as_str(), 401),
            (TOKEN, "9", body.as_str(), 404),
            (TOKEN, "x", body.as_str(), 404),
            (TOKEN, "0", r#"{"secret":"short"}"#, 400),
            (TOKEN, "0", r#"{"secret":"x","extra":1}"#, 400),
            (TOKEN, "0", "not json", 400),
        ] {
            let (got, answer) = replace_source_secret(&runner, token, index, body).await;
            assert_eq!(got, status, "{token} {index} {body}: {answer}");
        }
        let (status, answer) = replace_source_secret(&runner, TOKEN, "0", &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["kind"], "stripe");
        let fingerprint = answer["secret_fingerprint"].clone();
        assert!(
            !answer.to_string().contains(NEW_STRIPE) && !answer.to_string().contains(STRIPE),
            "a secret in the answer: {answer}"
        );

        let event =
            |n: u32| format!(r#"{{"id":"evt_roll_{n}","type":"invoice.paid","data":{{}}}}"#);
        let (status, answer) = send(
            &runner,
            "multi",
            &signed("stripe", NEW_STRIPE, &event(1)),
            &event(1),
        )
        .await;
        assert_eq!(status, 202, "the new secret: {answer}");
        let (status, answer) = send(
            &runner,
            "multi",
            &signed("stripe", STRIPE, &event(2)),
            &event(2),
        )
        .await;
        let expected = if old_verifies { 202 } else { 401 };
        assert_eq!(
            status, expected,
            "the old secret with a grace of {grace} s: {answer}"
        );

        let stripe = stripe_source(&runner).await;
        assert_eq!(stripe["secret_fingerprint"], fingerprint, "{stripe}");
        assert_ne!(stripe["secret_fingerprint"], before["secret_fingerprint"]);
        assert_eq!(
            stripe["previous_secret_valid_until"].is_string(),
            old_verifies,
            "{stripe}"
        );
    }
}

/// The agent view's Stripe source of agent `multi` (`GET /api/v1/agents`).
async fn stripe_source(runner: &Runner) -> Value {
    let (status, agents) = runner.get_json("/api/v1/agents", TOKEN).await.unwrap();
    assert_eq!(status, 200, "{agents}");
    let multi = agents
        .as_array()
        .and_then(|list| list.iter().find(|a| a["id"] == "multi"))
        .unwrap_or_else(|| panic!("{agents}"));
    assert_eq!(multi["sources"][0]["kind"], "stripe", "{multi}");
    multi["sources"][0].clone()
}
