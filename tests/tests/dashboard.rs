//! The dashboard in a real headless Chromium against the real binary: sign-in (a wrong token is
//! refused clearly), a signed webhook's run appearing without a reload, its log arriving live
//! and in order across a reconnect, cancellation, filters and pagination, the agents page with
//! secret rotation, and hostile payloads and log lines rendered as text. Screenshots of every
//! page land in `target/ui-screenshots/`.

use std::time::Duration;

use e2e_tests::browser::Browser;
use e2e_tests::{Runner, SECRET, TOKEN};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);
const XSS_IMG: &str = "<img src=x onerror=window.__xss=1>";
/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";
const XSS_SCRIPT: &str = "</script><script>window.__xss=2</script>";

fn config() -> String {
    format!(
        r#"
[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

# Prints five numbered lines slowly enough to be watched, then hostile markup.
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

/// The run page's state: its status and the log lines shown, in page order.
const RUN_STATE: &str = r#"
const status = document.querySelector('#record [data-field=status] [data-status]');
return {
  status: status ? status.dataset.status : null,
  seqs: [...document.querySelectorAll('#log li')].map(li => Number(li.dataset.seq)),
  contents: [...document.querySelectorAll('#log li .content')].map(c => c.textContent),
  streams: [...document.querySelectorAll('#log li')].map(li => li.dataset.stream),
};"#;

async fn trigger(runner: &Runner, agent: &str, body: &Value) -> String {
    let (status, answer) = runner
        .trigger("crew", agent, SECRET, &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

async fn open_run(browser: &Browser, run_id: &str) {
    browser
        .js(
            "location.hash = '#/runs/' + arguments[0];",
            vec![json!(run_id)],
        )
        .await
        .unwrap();
    browser
        .until(
            "the run page",
            &format!("return document.querySelector('h1 .mono')?.textContent === '{run_id}';"),
            LIMIT,
        )
        .await
        .unwrap();
}

async fn sign_in(browser: &Browser, token: &str) {
    let input = browser
        .client
        .find(fantoccini::Locator::Css("#token"))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(token).await.unwrap();
    browser
        .client
        .find(fantoccini::Locator::Css("#signin button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_follows_runs_live_and_renders_everything_as_text() {
    let runner = Runner::start(&config()).unwrap();
    let browser = Browser::start(1280, 900, &[]).await.unwrap();
    let c = &browser.client;

    // `/` redirects to the dashboard, which asks for a token.
    c.goto(&format!("{}/", runner.base)).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/");
    browser
        .until(
            "the sign-in form",
            "return !!document.querySelector('#token');",
            LIMIT,
        )
        .await
        .unwrap();
    browser.screenshot("01-sign-in").await.unwrap();

    // A wrong token is refused with a clear message and is not kept.
    sign_in(&browser, "not-a-token").await;
    let refused = browser
        .until(
            "the refusal",
            "return document.querySelector('#signin-msg .msg-error')?.textContent;",
            LIMIT,
        )
        .await
        .unwrap();
    let refused = refused.as_str().unwrap();
    assert!(
        refused.contains("refused") && refused.contains("invalid_token"),
        "{refused}"
    );
    let kept = browser
        .js("return sessionStorage.getItem('crewship.token');", vec![])
        .await
        .unwrap();
    assert_eq!(kept, Value::Null);
    browser.screenshot("02-wrong-token").await.unwrap();

    // The right token opens the runs page and a live connection; the token is in the tab's
    // session storage and not in the URL.
    sign_in(&browser, TOKEN).await;
    browser
        .until(
            "the live connection",
            "return document.querySelector('#runs') && document.querySelector('#live').dataset.state === 'live';",
            LIMIT,
        )
        .await
        .unwrap();
    assert!(!c.current_url().await.unwrap().as_str().contains(TOKEN));
    browser
        .js("window.__sameDocument = true;", vec![])
        .await
        .unwrap();

    // A signed webhook's run appears without a reload.
    let body = json!({
        "event": "xss.test",
        "source": "browser-test",
        "data": {"title": XSS_IMG, "note": XSS_SCRIPT},
    });
    let run_id = trigger(&runner, "echo", &body).await;
    browser
        .until(
            "the new run's row",
            &format!("return !!document.querySelector('tr[data-run-id=\"{run_id}\"]');"),
            LIMIT,
        )
        .await
        .unwrap();
    let same = browser
        .js("return window.__sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");
    browser.screenshot("03-runs").await.unwrap();

    // Open it from the list; its lines arrive while it runs. Halfway, the live connection is
    // dropped and reopened: the page resumes after the last seq it showed.
    c.find(fantoccini::Locator::Css(&format!(
        "tr[data-run-id=\"{run_id}\"] a"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let mut seen_partial = false;
    let mut reconnected = false;
    let start = std::time::Instant::now();
    let last = loop {
        let state = browser.js(RUN_STATE, vec![]).await.unwrap();
        let lines = state["seqs"].as_array().map_or(0, Vec::len);
        if state["status"] == "RUNNING" && (1..5).contains(&lines) {
            seen_partial = true;
            if lines >= 2 && !reconnected {
                c.find(fantoccini::Locator::Css("#live"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                reconnected = true;
            }
        }
        if state["status"] == "COMPLETED" && lines >= 8 {
            break state;
        }
        assert!(
            start.elapsed() < LIMIT,
            "the run did not finish on the page: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        seen_partial,
        "no log line was shown while the run was running"
    );
    assert!(
        reconnected,
        "the live connection was never dropped during the run"
    );
    let stored = runner.run_logs("echo", &run_id, TOKEN).await.unwrap();
    let seqs: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(
        last["seqs"],
        json!(seqs),
        "lines missing, repeated or out of order"
    );
    let contents: Vec<&Value> = stored.iter().map(|e| &e["content"]).collect();
    assert_eq!(last["contents"], json!(contents));
    let shown: Vec<&str> = last["contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(shown, ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    let streams = last["streams"].as_array().unwrap();
    assert!(streams.contains(&json!("stderr")), "{last}");
    assert!(streams.contains(&json!("stdout")), "{last}");
    browser.screenshot("04-run").await.unwrap();

    // Hostile markup in the payload and the log is shown literally and runs nothing.
    let page = browser
        .js(
            r#"return {
              xss: typeof window.__xss,
              imgs: document.querySelectorAll('img').length,
              scripts: document.scripts.length,
              payload: document.getElementById('payload').textContent,
              log: document.getElementById('log').textContent,
            };"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(page["xss"], "undefined", "an injected script ran: {page}");
    assert_eq!(page["imgs"], 0, "an element was injected: {page}");
    assert_eq!(page["scripts"], 1, "a script element was injected: {page}");
    let payload = page["payload"].as_str().unwrap();
    assert!(
        payload.contains(XSS_IMG) && payload.contains(XSS_SCRIPT),
        "{payload}"
    );
    let log = page["log"].as_str().unwrap();
    assert!(log.contains("<img src=x onerror=window.__xss=3>"), "{log}");
    assert!(
        log.contains("</script><script>window.__xss=4</script>"),
        "{log}"
    );

    // Cancel a running run from its page: it ends CANCELLED, live.
    let sleeper = trigger(&runner, "sleeper", &json!({"event": "nap"})).await;
    open_run(&browser, &sleeper).await;
    browser
        .until(
            "the sleeper running with its first line",
            "return document.querySelector('#record [data-status=RUNNING]') && document.querySelectorAll('#log li').length >= 1;",
            LIMIT,
        )
        .await
        .unwrap();
    c.find(fantoccini::Locator::Css("#cancel"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .until(
            "CANCELLED on the page",
            "return !!document.querySelector('#record [data-field=status] [data-status=CANCELLED]');",
            LIMIT,
        )
        .await
        .unwrap();
    let record = runner.wait_for_run(&sleeper, TOKEN, LIMIT).await.unwrap();
    assert_eq!(record["status"], "CANCELLED");
    let cancel_gone = browser
        .js("return document.querySelector('#cancel') === null;", vec![])
        .await
        .unwrap();
    assert_eq!(cancel_gone, json!(true));
    browser.screenshot("05-cancelled").await.unwrap();

    // Filters: by status and by event.
    browser
        .js("location.hash = '#/runs?status=CANCELLED';", vec![])
        .await
        .unwrap();
    let ids = browser
        .until(
            "the CANCELLED runs",
            "const r = [...document.querySelectorAll('#runs tr')].map(t => t.dataset.runId); return r.length ? r : null;",
            LIMIT,
        )
        .await
        .unwrap();
    assert_eq!(ids, json!([sleeper]));
    browser
        .js("location.hash = '#/runs?event=xss';", vec![])
        .await
        .unwrap();
    let ids = browser
        .until(
            "the xss.test runs",
            "const r = [...document.querySelectorAll('#runs tr')].map(t => t.dataset.runId); return r.length ? r : null;",
            LIMIT,
        )
        .await
        .unwrap();
    assert_eq!(ids, json!([run_id]));

    // Pagination through the API's cursors: 55 runs of one agent, 50 per page, newest first.
    let mut quick = Vec::new();
    for i in 0..55 {
        quick.push(trigger(&runner, "quick", &json!({"event": format!("tick.{i}")})).await);
    }
    for id in &quick {
        runner.wait_for_run(id, TOKEN, LIMIT).await.unwrap();
    }
    browser
        .js("location.hash = '#/runs?agent=quick';", vec![])
        .await
        .unwrap();
    let rows = "return [...document.querySelectorAll('#runs tr')].map(t => t.dataset.runId);";
    browser
        .until("the first page", "return document.querySelectorAll('#runs tr').length === 50 && !document.querySelector('#more').hidden;", LIMIT)
        .await
        .unwrap();
    c.find(fantoccini::Locator::Css("#more"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .until("the second page", "return document.querySelectorAll('#runs tr').length === 55 && document.querySelector('#more').hidden;", LIMIT)
        .await
        .unwrap();
    let listed = browser.js(rows, vec![]).await.unwrap();
    let newest_first: Vec<&String> = quick.iter().rev().collect();
    assert_eq!(listed, json!(newest_first));
    // A new run lands on top of the open list, and its status changes there, live.
    let newest = trigger(&runner, "quick", &json!({"event": "tick.live"})).await;
    browser
        .until(
            "the new run on top, COMPLETED",
            &format!(
                "const top = document.querySelector('#runs tr'); return top.dataset.runId === '{newest}' && !!top.querySelector('[data-status=COMPLETED]');"
            ),
            LIMIT,
        )
        .await
        .unwrap();
    quick.push(newest);
    // All agents merged: every run of the workspace once, newest first.
    browser
        .js("location.hash = '#/runs';", vec![])
        .await
        .unwrap();
    browser
        .until(
            "the merged first page",
            "return document.querySelectorAll('#runs tr').length === 50;",
            LIMIT,
        )
        .await
        .unwrap();
    c.find(fantoccini::Locator::Css("#more"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .until("all 58 runs", "return document.querySelectorAll('#runs tr').length === 58 && document.querySelector('#more').hidden;", LIMIT)
        .await
        .unwrap();
    let listed = browser.js(rows, vec![]).await.unwrap();
    let mut all: Vec<String> = quick.clone();
    all.push(run_id.clone());
    all.push(sleeper.clone());
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed, json!(all));

    // Agents: the webhook URL, signing examples, and a rotation whose new secret works.
    c.find(fantoccini::Locator::Css("#nav a[data-page=agents]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    let card = card.as_str().unwrap();
    assert!(card.contains("openssl dgst -sha256 -hmac"), "{card}");
    assert!(card.contains("local-runner trigger"), "{card}");
    // The curl + openssl example works as shown, pasted into a shell that is given the secret.
    let example = browser
        .js(
            "return document.querySelector('[data-agent-id=echo] pre').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let mut shell = std::process::Command::new("bash")
        .args(["-c", example.as_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(shell.stdin.take().unwrap(), "{SECRET}").unwrap();
    let out = shell.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        answer["run_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("run_")),
        "the curl example did not start a run: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    browser.screenshot("06-agents").await.unwrap();
    c.find(fantoccini::Locator::Css("[data-agent-id=echo] .rotate"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(fantoccini::Locator::Css(
        "[data-agent-id=echo] .rotate-confirm",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
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

    // A phone's width: the run page fits without scrolling sideways.
    c.set_window_size(390, 844).await.unwrap();
    open_run(&browser, &run_id).await;
    browser
        .until(
            "the log",
            "return document.querySelectorAll('#log li').length >= 8;",
            LIMIT,
        )
        .await
        .unwrap();
    let fits = browser
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the run page overflows 390 px");
    browser.screenshot("08-run-phone").await.unwrap();

    // Signing out forgets the token.
    c.find(fantoccini::Locator::Css("#signout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .until(
            "the sign-in form",
            "return !!document.querySelector('#token') && sessionStorage.length === 0;",
            LIMIT,
        )
        .await
        .unwrap();
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_works_by_keyboard_and_reads_in_dark_mode() {
    let runner = Runner::start(&config()).unwrap();
    let run_id = trigger(&runner, "echo", &json!({"event": "dark", "data": {"n": 1}})).await;
    runner.wait_for_run(&run_id, TOKEN, LIMIT).await.unwrap();
    let browser = Browser::start(
        1280,
        900,
        &[
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
        ],
    )
    .await
    .unwrap();
    browser
        .client
        .goto(&format!("{}/ui/", runner.base))
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
    // By keyboard only: the token and Enter sign in; Enter on the focused run link opens it.
    browser
        .client
        .find(fantoccini::Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&format!("{TOKEN}{ENTER}"))
        .await
        .unwrap();
    browser
        .until(
            "the runs",
            "return document.querySelectorAll('#runs tr').length === 1;",
            LIMIT,
        )
        .await
        .unwrap();
    browser
        .client
        .find(fantoccini::Locator::Css("#runs tr a"))
        .await
        .unwrap()
        .send_keys(ENTER)
        .await
        .unwrap();
    browser
        .until(
            "the run page",
            &format!("return document.querySelector('h1 .mono')?.textContent === '{run_id}';"),
            LIMIT,
        )
        .await
        .unwrap();
    browser
        .until(
            "the log",
            "return document.querySelectorAll('#log li').length >= 8;",
            LIMIT,
        )
        .await
        .unwrap();
    let dark = browser
        .js(
            "return matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        dark,
        json!("rgb(18, 20, 23)"),
        "the dark palette is not applied"
    );
    browser.screenshot("09-run-dark").await.unwrap();
    browser.close().await.unwrap();
}
