//! One attempt of one callback: the guard, then a signed POST to the pinned address, and what
//! came of it. Nothing here logs or keeps the body, the key or the signature; an attempt's
//! error says what failed without the URL (which may carry a token in its query).

use std::time::Duration;

use crewship_core::callbacks::{Attempt, OutboxEntry};
use crewship_core::signer::Signer;
use time::OffsetDateTime;

use super::guard::{self, GuardError};

/// What an attempt came to.
#[derive(Debug)]
pub enum Tried {
    /// Made (answered or not): the schedule decides what follows.
    Made(Attempt),
    /// The guard refused the target: never retried.
    Refused(Attempt),
}

/// How attempts are made.
#[derive(Debug, Clone, Copy)]
pub struct AttemptRules {
    pub allow_private: bool,
    pub timeout: Duration,
}

/// POSTs `entry.body` to `entry.url`, signed the Standard Webhooks way with `key`.
pub async fn attempt(
    entry: &OutboxEntry,
    key: &[u8],
    rules: AttemptRules,
    now: OffsetDateTime,
) -> Tried {
    let Ok(url) = reqwest::Url::parse(&entry.url) else {
        return Tried::Refused(Attempt::failed(now, GuardError::BadUrl.to_string()));
    };
    let target = match guard::check(&url, rules.allow_private).await {
        Ok(target) => target,
        Err(e) if e.is_refusal() => return Tried::Refused(Attempt::failed(now, e.to_string())),
        Err(e) => return Tried::Made(Attempt::failed(now, e.to_string())),
    };
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(rules.timeout)
        .no_proxy()
        .resolve(&target.host, target.addr)
        .build()
    {
        Ok(client) => client,
        Err(e) => return Tried::Made(Attempt::failed(now, describe(&e, rules.timeout))),
    };
    let timestamp = now.unix_timestamp().to_string();
    let id = entry.id.as_str();
    let signature = Signer::new(key).standard_webhooks(id, &timestamp, entry.body.as_bytes());
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", &timestamp)
        .header("webhook-signature", signature)
        .header(reqwest::header::USER_AGENT, "crewship-callbacks/1")
        .body(entry.body.clone())
        .send()
        .await;
    Tried::Made(match sent {
        // A 3xx is an answer that is not a success: redirects are never followed.
        Ok(response) => Attempt::answered(now, response.status().as_u16()),
        Err(e) => Attempt::failed(now, describe(&e, rules.timeout)),
    })
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs())
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else if e.is_builder() {
        "the request could not be built".into()
    } else {
        "the request failed before an answer arrived".into()
    }
}
