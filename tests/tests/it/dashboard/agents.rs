//! The agents page: each agent's webhook URL, a curl + openssl example that starts a run when
//! pasted into a shell as shown, and a secret rotation whose new secret, shown once, verifies.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_page_signs_as_shown_and_rotates_a_secret() {
    let _one = one_at_a_time().await;
    let (runner, browser) = signed_in().await;
    click(&browser, "#nav a[data-page=agents]").await;
    let url = browser
        .until(
            "the echo agent",
            "return document.querySelector('[data-agent-id=echo] .webhook-url')?.textContent;",
            LIMIT,
        )
        .await
        .unwrap();
    assert_eq!(url, json!(runner.trigger_url("crew", "echo")));
    let card = browser
        .js(
            "return document.querySelector('[data-agent-id=echo]').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        card.as_str().unwrap().contains("local-runner trigger"),
        "{card}"
    );
    browser.screenshot("06-agents").await.unwrap();

    // The curl + openssl example, run by a shell that is given the secret on stdin.
    let example = browser
        .js(
            "return document.querySelector('[data-agent-id=echo] pre').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let example = example.as_str().unwrap();
    assert!(example.contains("openssl dgst -sha256 -hmac"), "{example}");
    let mut shell = Command::new("bash")
        .args(["-c", example])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(shell.stdin.take().unwrap(), "{SECRET}").unwrap();
    let out = shell.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let started = answer["run_id"].as_str().unwrap_or_else(|| {
        panic!(
            "the example did not start a run: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    runner.wait_for_run(started, TOKEN, LIMIT).await.unwrap();

    click(&browser, "[data-agent-id=echo] .rotate").await;
    click(&browser, "[data-agent-id=echo] .rotate-confirm").await;
    let secret = browser
        .until(
            "the new secret",
            "return document.querySelector('[data-agent-id=echo] .secret')?.textContent;",
            LIMIT,
        )
        .await
        .unwrap();
    let secret = secret.as_str().unwrap().to_owned();
    assert_ne!(secret, SECRET);
    let (status, answer) = runner
        .trigger("crew", "echo", &secret, r#"{"event":"after.rotation"}"#)
        .await
        .unwrap();
    assert_eq!(status, 202, "the rotated secret does not verify: {answer}");
    browser.screenshot("07-rotated").await.unwrap();
    browser.close().await.unwrap();
}
