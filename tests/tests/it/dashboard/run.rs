//! One run, watched: it appears in the list without a reload, its log arrives while it runs,
//! in order, each line once — across a dropped and reopened live connection — and equal to the
//! logs API; hostile markup in its payload and log is shown as text; a running run is
//! cancelled from its page.

use std::time::Instant;

use serde_json::{Value, json};

use super::*;

const XSS_IMG: &str = "<img src=x onerror=window.__xss=1>";
const XSS_SCRIPT: &str = "</script><script>window.__xss=2</script>";

/// The run page's state: its status and the log lines shown, in page order.
const RUN_STATE: &str = r#"
const status = document.querySelector('#record [data-field=status] [data-status]');
return {
  status: status ? status.dataset.status : null,
  seqs: [...document.querySelectorAll('#log li')].map(li => Number(li.dataset.seq)),
  contents: [...document.querySelectorAll('#log li .content')].map(c => c.textContent),
  streams: [...document.querySelectorAll('#log li')].map(li => li.dataset.stream),
};"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_run_appears_live_and_its_log_follows_in_order_as_text() {
    let _one = one_at_a_time().await;
    let (runner, browser) = signed_in().await;
    browser
        .js("window.__sameDocument = true;", vec![])
        .await
        .unwrap();

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

    // Open it from the list. Once two lines are shown, the live connection is dropped and
    // reopened: the page resumes after the last seq it showed.
    click(&browser, &format!("tr[data-run-id=\"{run_id}\"] a")).await;
    let mut seen_partial = false;
    let mut reconnected = false;
    let start = Instant::now();
    let last = loop {
        let state = browser.js(RUN_STATE, vec![]).await.unwrap();
        let lines = state["seqs"].as_array().map_or(0, Vec::len);
        if state["status"] == "RUNNING" && (1..5).contains(&lines) {
            seen_partial = true;
            if lines >= 2 && !reconnected {
                click(&browser, "#live").await;
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
    let numbered: Vec<&str> = last["contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(numbered, ["line 1", "line 2", "line 3", "line 4", "line 5"]);
    let streams = last["streams"].as_array().unwrap();
    assert!(streams.contains(&json!("stderr")), "{last}");
    assert!(streams.contains(&json!("stdout")), "{last}");
    browser.screenshot("04-run").await.unwrap();

    // Hostile markup is shown literally, injects no element and runs nothing.
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
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_run_is_cancelled_from_its_page() {
    let _one = one_at_a_time().await;
    let (runner, browser) = signed_in().await;
    let sleeper = trigger(&runner, "sleeper", &json!({"event": "nap"})).await;
    open_run(&browser, &sleeper).await;
    browser
        .until(
            "the sleeper running with its first line",
            "return !!document.querySelector('#record [data-status=RUNNING]') && document.querySelectorAll('#log li').length >= 1;",
            LIMIT,
        )
        .await
        .unwrap();
    click(&browser, "#cancel").await;
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
    browser.close().await.unwrap();
}
