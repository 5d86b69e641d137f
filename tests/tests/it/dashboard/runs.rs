//! The runs list: the workspace's runs merged from every agent, newest first, paged through
//! the API's cursors; status and event filters; a new run landing on top, its status changing
//! in place.

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn filters_and_cursors_list_the_workspaces_runs_newest_first_and_live() {
    let _one = one_at_a_time().await;
    let (runner, browser) = signed_in().await;
    let mut quick = Vec::new();
    for i in 0..55 {
        quick.push(trigger(&runner, "quick", &json!({"event": format!("tick.{i}")})).await);
    }
    let special = trigger(&runner, "quick", &json!({"event": "special.one"})).await;
    let sleeper = trigger(&runner, "sleeper", &json!({"event": "nap"})).await;
    for id in quick.iter().chain([&special]) {
        runner.wait_for_run(id, TOKEN, LIMIT).await.unwrap();
    }
    let cancel = runner
        .http
        .post(format!("{}/api/v1/runs/{sleeper}/cancel", runner.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(cancel.status().is_success(), "{}", cancel.status());
    runner.wait_for_run(&sleeper, TOKEN, LIMIT).await.unwrap();

    go(&browser, "#/runs?status=CANCELLED").await;
    assert_eq!(listed(&browser, 1).await, json!([sleeper]));
    go(&browser, "#/runs?event=special").await;
    assert_eq!(listed(&browser, 1).await, json!([special]));

    // One agent: 56 runs, 50 on the first page, the rest through the `Link` cursor.
    go(&browser, "#/runs?agent=quick").await;
    listed(&browser, 50).await;
    click(&browser, "#more").await;
    let all_quick = listed(&browser, 56).await;
    let mut expected: Vec<String> = quick.iter().chain([&special]).cloned().collect();
    expected.reverse();
    assert_eq!(all_quick, json!(expected));
    let more_hidden = browser
        .js("return document.querySelector('#more').hidden;", vec![])
        .await
        .unwrap();
    assert_eq!(more_hidden, json!(true), "a next page after the last");

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

    // Every agent merged: each run of the workspace once, newest first.
    go(&browser, "#/runs").await;
    listed(&browser, 50).await;
    click(&browser, "#more").await;
    let all = listed(&browser, 58).await;
    let mut expected: Vec<String> = quick.clone();
    expected.extend([special, sleeper, newest]);
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all, json!(expected));
    browser.close().await.unwrap();
}
