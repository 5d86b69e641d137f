//! Connections without credentials cannot exhaust the server (issue 16, item 2): slow heads and
//! bodies, idle kept-alive connections and oversized heads are cut by their deadlines and caps,
//! on the real binary, while a signed webhook sent meanwhile is answered.

use std::time::{Duration, Instant};

use e2e_tests::{Runner, SECRET, StartOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config() -> String {
    format!(
        r#"
[server]
internal_token = "internal-token"

[[tokens]]
token = "monitor-token"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "cat > /dev/null"]
webhook_secret = "{SECRET}"
"#
    )
}

fn start(args: &[&str]) -> Runner {
    Runner::start_with(&config(), args).unwrap()
}

async fn connect(runner: &Runner) -> TcpStream {
    TcpStream::connect(runner.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent and when, or `None` when it
/// was still open after `limit`.
pub(crate) async fn read_until_closed(
    stream: &mut TcpStream,
    limit: Duration,
) -> Option<(String, Duration)> {
    let start = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| {
        (
            String::from_utf8_lossy(&received).into_owned(),
            start.elapsed(),
        )
    })
}

async fn signed_webhook_is_answered(runner: &Runner, within: Duration) {
    let answer = tokio::time::timeout(
        within,
        runner.trigger("crew", "echo", SECRET, r#"{"event":"ping"}"#),
    )
    .await
    .expect("the signed webhook was answered in time")
    .unwrap();
    assert_eq!(answer.0, 202, "{}", answer.1);
}

#[tokio::test]
async fn a_head_left_unfinished_is_closed_by_its_deadline_while_a_signed_webhook_is_answered() {
    let runner = start(&["--header-read-timeout-secs", "1"]);
    let mut slow = connect(&runner).await;
    slow.write_all(b"POST /api/v1/webhooks/crew/echo/trigger HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    signed_webhook_is_answered(&runner, Duration::from_secs(5)).await;
    let (_, after) = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the unfinished head is closed by the header-read deadline");
    assert!(after < Duration::from_secs(5), "closed after {after:?}");
}

#[tokio::test]
async fn a_body_that_never_completes_is_answered_408_at_its_deadline() {
    let runner = start(&["--body-timeout-secs", "1"]);
    let mut slow = connect(&runner).await;
    slow.write_all(
        b"POST /api/v1/webhooks/crew/echo/trigger HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event\":",
    )
    .await
    .unwrap();
    signed_webhook_is_answered(&runner, Duration::from_secs(5)).await;
    let (answer, after) = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the slow body is cut by the body deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{answer}");
    assert!(lower.contains("content-type: application/json"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
    assert!(after < Duration::from_secs(5), "closed after {after:?}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    // The header-read deadline (10 s) is longer: what closes it is the idle timeout.
    let runner = start(&["--idle-timeout-secs", "1"]);
    let mut idle = connect(&runner).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, after) = read_until_closed(&mut idle, Duration::from_secs(8))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
}

#[tokio::test]
async fn a_100_kib_header_is_refused_with_431() {
    let runner = start(&[]);
    let mut big = connect(&runner).await;
    let header = format!(
        "POST /api/v1/webhooks/crew/echo/trigger HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    // The server may close before it has read all of it.
    let _ = big.write_all(header.as_bytes()).await;
    let (answer, _) = read_until_closed(&mut big, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    signed_webhook_is_answered(&runner, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_413_closes_the_connection_and_says_so() {
    let runner = start(&[]);
    let mut large = connect(&runner).await;
    large
        .write_all(
            b"POST /api/v1/webhooks/crew/echo/trigger HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{",
        )
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut large, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""error":"payload_too_large""#),
        "{answer}"
    );
}

/// Open descriptors of a process, from `/proc`.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn idle_sockets_past_the_connection_cap_do_not_stop_a_signed_webhook() {
    // 400 idle sockets against a 256-descriptor process: today's unbounded accept loop runs out
    // of descriptors and never frees one; the cap keeps room and the header-read deadline
    // recycles the idle ones.
    const LIMIT: usize = 256;
    const IDLE: usize = 400;
    let nofile = format!("--nofile={LIMIT}:{LIMIT}");
    let runner = Runner::start_opts(
        &config(),
        &StartOptions {
            args: &["--header-read-timeout-secs", "1"],
            wrapper: &["prlimit", &nofile, "--"],
            ..StartOptions::default()
        },
    )
    .unwrap();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(connect(&runner).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = open_files(runner.pid());
    assert!(
        open < LIMIT - 16,
        "{open} descriptors open: the cap must keep room below {LIMIT}"
    );
    signed_webhook_is_answered(&runner, Duration::from_secs(20)).await;
    // The process still has descriptors for its own work: a second webhook, and a run.
    signed_webhook_is_answered(&runner, Duration::from_secs(20)).await;
    drop(idle);
}
