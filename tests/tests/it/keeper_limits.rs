//! The Keeper server has the webhook server's connection limits, checks its token before it
//! parses anything, and answers every error as the protocol's JSON (issue 16, items 2 and 5).

use std::time::Duration;

use e2e_tests::keeper::KeeperProcess;

use crate::connection_limits::read_until_closed;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TOKEN: &str = "keeper-test-token";

async fn connect(keeper: &KeeperProcess) -> TcpStream {
    TcpStream::connect(keeper.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_keeper_closes_unfinished_heads_and_refuses_oversized_ones() {
    let keeper =
        KeeperProcess::start_with_env(TOKEN, &[("CREWSHIP_HEADER_READ_TIMEOUT_SECS", "1")])
            .unwrap();
    let mut slow = connect(&keeper).await;
    slow.write_all(b"PUT /v1/runtimes/crew HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, after) = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the unfinished head is closed by the header-read deadline");
    assert!(after < Duration::from_secs(5), "closed after {after:?}");

    let mut big = connect(&keeper).await;
    let head = format!(
        "PUT /v1/runtimes/crew HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let (answer, _) = read_until_closed(&mut big, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

async fn json_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status} answered {content_type:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    (status, body)
}

#[tokio::test]
async fn the_keeper_checks_its_token_first_and_answers_json_errors() {
    let keeper = KeeperProcess::start(TOKEN).unwrap();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", keeper.url);

    // Without the token, no body is parsed: a malformed one is 401, not 400.
    let response = http
        .post(url("/v1/runtimes/rt-crew/exec"))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(response).await.0, 401);
    let unauthenticated = [
        http.put(url("/v1/runtimes/%FF")),
        http.get(url("/v1/runtimes/%FF")),
        http.post(url("/v1/execs/%FF/kill")),
    ];
    for request in unauthenticated {
        assert_eq!(json_error(request.send().await.unwrap()).await.0, 401);
    }

    // With it, every error is still JSON.
    let authorized = [
        (http.put(url("/v1/runtimes/%FF")), 400),
        (
            http.post(url("/v1/runtimes/rt-crew/exec"))
                .header("content-type", "application/json")
                .body("not json"),
            400,
        ),
        (http.post(url("/v1/execs/x-1/kill")).body("{"), 400),
        (http.get(url("/v1/nothing-here")), 404),
        (http.delete(url("/v1/runtimes/rt-crew")), 405),
    ];
    for (request, expected) in authorized {
        let response = request.bearer_auth(TOKEN).send().await.unwrap();
        let (status, body) = json_error(response).await;
        assert_eq!(status, expected, "{body}");
    }

    // A body over the limit is refused before it is read, and the connection closed.
    let mut large = connect(&keeper).await;
    let head = format!(
        "POST /v1/runtimes/rt-crew/exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{{"
    );
    large.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut large, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(lower.contains("application/json"), "{answer}");
}
