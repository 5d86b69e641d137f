//! The dashboard in a real headless Chromium against the real binary. Screenshots of every page
//! land in `target/ui-screenshots/`.
//!
//! - [`sign_in`]: the redirect, a wrong token refused clearly, sign-out.
//! - [`run`]: a webhook's run appearing live, its log following in order across a reconnect,
//!   hostile markup shown as text, cancellation.
//! - [`runs`]: filters and cursor pagination of the workspace's runs, live rows.
//! - [`agents`]: webhook URLs, a signing example that works as shown, secret rotation.
//! - [`looks`]: keyboard only, a phone's width, dark mode.
//!
//! One browser at a time: the machine is small and the live-log test watches timing.

mod agents;
mod looks;
mod run;
mod runs;
mod sign_in;

use std::time::Duration;

use e2e_tests::browser::Browser;
use e2e_tests::{Runner, SECRET, TOKEN};
use fantoccini::Locator;
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};

const LIMIT: Duration = Duration::from_secs(60);
/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

fn config() -> String {
    format!(
        r#"
[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

# Prints five numbered lines slowly enough to be watched, a warning, then hostile markup.
[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "sleep 1; i=1; while [ $i -le 5 ]; do echo \"line $i\"; i=$((i+1)); sleep 1; done; echo 'a warning' >&2; echo '<img src=x onerror=window.__xss=3>'; echo '</script><script>window.__xss=4</script>'"]
webhook_secret = "{SECRET}"

[[agents]]
id = "sleeper"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo sleeping; sleep 120"]
webhook_secret = "{SECRET}"

[[agents]]
id = "quick"
crew_id = "crew"
workspace_id = "ws"
command = ["true"]
webhook_secret = "{SECRET}"
max_concurrent_runs = 4
rate_limit_per_min = 100000
"#
    )
}

/// Serialises the browser tests of this binary.
async fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// A runner, and a 1280 px browser signed in to it with a live connection.
async fn signed_in() -> (Runner, Browser) {
    let runner = Runner::start(&config()).unwrap();
    let browser = Browser::start(1280, 900, &[]).await.unwrap();
    open_dashboard(&runner, &browser).await;
    sign_in(&browser, TOKEN).await;
    wait_live(&browser).await;
    (runner, browser)
}

async fn open_dashboard(runner: &Runner, browser: &Browser) {
    browser
        .client
        .goto(&format!("{}/", runner.base))
        .await
        .unwrap();
    browser
        .until(
            "the sign-in form",
            "return !!document.querySelector('#token');",
            LIMIT,
        )
        .await
        .unwrap();
}

async fn sign_in(browser: &Browser, token: &str) {
    let input = browser.client.find(Locator::Css("#token")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(token).await.unwrap();
    click(browser, "#signin button[type=submit]").await;
}

async fn wait_live(browser: &Browser) {
    browser
        .until(
            "the live connection",
            "return !!document.querySelector('#runs') && document.querySelector('#live').dataset.state === 'live';",
            LIMIT,
        )
        .await
        .unwrap();
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn trigger(runner: &Runner, agent: &str, body: &Value) -> String {
    let (status, answer) = runner
        .trigger("crew", agent, SECRET, &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

async fn go(browser: &Browser, hash: &str) {
    browser
        .js("location.hash = arguments[0];", vec![json!(hash)])
        .await
        .unwrap();
}

async fn open_run(browser: &Browser, run_id: &str) {
    go(browser, &format!("#/runs/{run_id}")).await;
    browser
        .until(
            "the run page",
            &format!("return document.querySelector('h1 .mono')?.textContent === '{run_id}';"),
            LIMIT,
        )
        .await
        .unwrap();
}

/// The run ids of the runs list, top to bottom, once it has `n` rows.
async fn listed(browser: &Browser, n: usize) -> Value {
    browser
        .until(
            &format!("{n} rows"),
            &format!(
                "const r = [...document.querySelectorAll('#runs tr')].map(t => t.dataset.runId); return r.length === {n} ? r : null;"
            ),
            LIMIT,
        )
        .await
        .unwrap()
}
