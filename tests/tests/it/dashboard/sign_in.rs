//! Getting in and out: `/` leads to the sign-in form, a wrong token is refused with a clear
//! message and not kept, the right one is kept in session storage only, sign-out forgets it.

use e2e_tests::browser::Browser;
use e2e_tests::{Runner, TOKEN};
use serde_json::{Value, json};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_refused_clearly_and_signing_out_forgets_the_right_one() {
    let _one = one_at_a_time().await;
    let runner = Runner::start(&config()).unwrap();
    let browser = Browser::start(1280, 900, &[]).await.unwrap();
    open_dashboard(&runner, &browser).await;
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/ui/");
    browser.screenshot("01-sign-in").await.unwrap();

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

    sign_in(&browser, TOKEN).await;
    wait_live(&browser).await;
    let url = browser.client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(TOKEN),
        "the token is in the URL: {url}"
    );
    let kept = browser
        .js("return sessionStorage.getItem('crewship.token');", vec![])
        .await
        .unwrap();
    assert_eq!(kept, json!(TOKEN));

    click(&browser, "#signout").await;
    browser
        .until(
            "the sign-in form, the token forgotten",
            "return !!document.querySelector('#token') && sessionStorage.length === 0;",
            LIMIT,
        )
        .await
        .unwrap();
    browser.close().await.unwrap();
}
