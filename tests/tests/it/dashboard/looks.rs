//! Usable: everything by keyboard, a phone's width without sideways scrolling, and the dark
//! palette when the system asks for it.

use e2e_tests::browser::Browser;
use e2e_tests::{Runner, TOKEN};
use fantoccini::Locator;
use serde_json::json;

use super::*;

const LOG_DONE: &str = "return document.querySelectorAll('#log li').length >= 8;";

#[tokio::test(flavor = "multi_thread")]
async fn by_keyboard_only_a_run_opens_and_fits_a_phone() {
    let _one = one_at_a_time().await;
    let runner = Runner::start(&config()).unwrap();
    let run_id = trigger(
        &runner,
        "echo",
        &json!({"event": "phone", "data": {"n": 1}}),
    )
    .await;
    runner.wait_for_run(&run_id, TOKEN, LIMIT).await.unwrap();
    let browser = Browser::start(390, 844, &[]).await.unwrap();
    open_dashboard(&runner, &browser).await;
    // The token and Enter sign in; Enter on the focused run link opens it.
    browser
        .client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&format!("{TOKEN}{ENTER}"))
        .await
        .unwrap();
    listed(&browser, 1).await;
    browser
        .client
        .find(Locator::Css("#runs tr a"))
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
    browser.until("the log", LOG_DONE, LIMIT).await.unwrap();
    let fits = browser
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the run page overflows 390 px");
    browser.screenshot("08-run-phone").await.unwrap();
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dark_palette_follows_the_system() {
    let _one = one_at_a_time().await;
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
    open_dashboard(&runner, &browser).await;
    sign_in(&browser, TOKEN).await;
    wait_live(&browser).await;
    open_run(&browser, &run_id).await;
    browser.until("the log", LOG_DONE, LIMIT).await.unwrap();
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
