//! Keeper over HTTPS: `local-runner keeper --tls-cert --tls-key` serves TLS itself, and the
//! runner's Keeper client verifies it against `executor.keeper_ca_file`. Without that CA the
//! certificate is refused; a plain `http://` Keeper URL to another host is refused at start
//! (the bearer token would travel in clear); a client that never finishes its handshake is
//! cut off by the header-read deadline, as on plain HTTP.

use std::time::{Duration, Instant};

use e2e_tests::keeper::KeeperProcess;
use e2e_tests::{Runner, SECRET, TOKEN, tls};
use tokio::io::AsyncReadExt;

const KEEPER_TOKEN: &str = "keeper-tls-token-3a5c7e9b1d2f4a6c";
const BODY: &str = r#"{"event":"tls"}"#;

fn config(keeper_url: &str, ca_file: Option<&std::path::Path>) -> String {
    let ca = ca_file.map_or(String::new(), |p| {
        format!("keeper_ca_file = \"{}\"", p.display())
    });
    format!(
        r#"
[executor]
runtime = "keeper"
keeper_url = "{keeper_url}"
keeper_token = "{KEEPER_TOKEN}"
{ca}

[[tokens]]
token = "{TOKEN}"
workspace_id = "ws"

[[agents]]
id = "echo"
crew_id = "crew"
workspace_id = "ws"
command = ["sh", "-c", "echo over-tls"]
webhook_secret = "{SECRET}"
"#
    )
}

fn tls_keeper(pki: &tls::TestPki, env: &[(&str, &str)]) -> KeeperProcess {
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    KeeperProcess::start_opts(KEEPER_TOKEN, env, &["--tls-cert", cert, "--tls-key", key]).unwrap()
}

#[tokio::test]
async fn a_run_goes_through_keeper_over_https_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make(dir.path()).unwrap();
    let keeper = tls_keeper(&pki, &[]);
    assert!(
        keeper.url.starts_with("https://127.0.0.1:"),
        "{}",
        keeper.url
    );
    let runner = Runner::start(&config(&keeper.url, Some(&pki.ca))).unwrap();
    let (run, lines) = runner
        .run_to_end("crew", "echo", BODY, TOKEN)
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run} {}", keeper.output());
    assert!(lines.iter().any(|l| l == "over-tls"), "{lines:?}");
}

#[tokio::test]
async fn without_the_ca_the_keepers_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make(dir.path()).unwrap();
    let keeper = tls_keeper(&pki, &[]);
    let runner = Runner::start(&config(&keeper.url, None)).unwrap();
    let (run, _) = runner
        .run_to_end("crew", "echo", BODY, TOKEN)
        .await
        .unwrap();
    assert_eq!(run["status"], "FAILED", "{run}");
    let message = run["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("Keeper unreachable"), "{run}");
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_at_start_naming_the_key() {
    let error = Runner::start(&config("http://keeper.example:7070", None))
        .err()
        .expect("the runner must not start")
        .to_string();
    assert!(error.contains("executor.keeper_url"), "{error}");
    assert!(error.contains("in clear"), "{error}");
}

#[tokio::test]
async fn a_silent_tls_client_is_cut_off_by_the_header_read_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls::make(dir.path()).unwrap();
    let keeper = tls_keeper(&pki, &[("CREWSHIP_HEADER_READ_TIMEOUT_SECS", "1")]);
    let addr = keeper.url.trim_start_matches("https://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    // Nothing sent, not even a ClientHello: the server closes.
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
