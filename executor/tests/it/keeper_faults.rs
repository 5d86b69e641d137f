//! Keeper faults a real server cannot be made to show: a Keeper that accepts connections and
//! then stops answering. A hand-written HTTP responder plays that Keeper.

use std::time::Duration;

use crewship_core::runtime::{ContainerRuntime, ExecSpec, Placement, RuntimeId};
use crewship_core::secret::Secret;
use executor::runtime::KeeperRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers the first request with a started exec stream, then never writes again; every later
/// request is read and left unanswered.
async fn silent_keeper() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let answer = first;
            first = false;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                if answer {
                    let frame = "{\"type\":\"started\",\"exec_id\":\"x-1\"}\n";
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    let chunk = format!("{head}{:x}\r\n{frame}\r\n", frame.len());
                    socket.write_all(chunk.as_bytes()).await.unwrap();
                }
                // Hold the connection open, silent.
                tokio::time::sleep(Duration::from_secs(600)).await;
                drop(socket);
            });
        }
    });
    url
}

#[tokio::test]
async fn kill_is_bounded_when_keeper_stops_answering() {
    let url = silent_keeper().await;
    let rt = KeeperRuntime::new(&url, Secret::new("t"))
        .unwrap()
        .with_call_timeout(Duration::from_millis(300));
    let spec = ExecSpec {
        argv: vec!["true".into()],
        env: Vec::new(),
        stdin: Vec::new(),
    };
    let mut exec = rt.exec(&RuntimeId("rt-crew".into()), spec).await.unwrap();
    // The stream is silent: reading would hang (the executor's deadline covers that)...
    assert!(
        tokio::time::timeout(Duration::from_millis(200), exec.next_line())
            .await
            .is_err()
    );
    // ...and kill gives up by itself with an error naming Keeper, instead of hanging.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        exec.kill(Duration::from_millis(100)),
    )
    .await
    .expect("kill must be bounded by its own timeout");
    let text = result.unwrap_err().to_string();
    assert!(text.contains("unavailable"), "{text}");
}

#[tokio::test]
async fn ensure_retries_then_fails_when_keeper_is_silent() {
    let url = silent_keeper().await;
    let rt = KeeperRuntime::new(&url, Secret::new("t"))
        .unwrap()
        .with_call_timeout(Duration::from_millis(200));
    let place = Placement::new("ws".parse().unwrap(), "crew".parse().unwrap());
    // The first connection gets a (wrong) exec stream, the later ones silence: either way
    // ensure ends with an error instead of hanging.
    let result = tokio::time::timeout(Duration::from_secs(60), rt.ensure(&place))
        .await
        .expect("ensure must be bounded");
    let text = result.unwrap_err().to_string();
    assert!(text.contains("Keeper"), "{text}");
}
