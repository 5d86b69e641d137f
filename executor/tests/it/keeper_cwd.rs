//! Keeper's `cwd` cannot leave the crew directory, symbolic links included: an agent that made
//! `ln -s / escape` cannot have the next exec start in `escape`; a link that stays inside is
//! followed. A real Keeper server over the process and the sandbox runtimes, raw HTTP.

use std::sync::Arc;

use crewship_core::runtime::ContainerRuntime;
use crewship_core::secret::Secret;
use crewship_test_support::procs;
use executor::runtime::{ProcessRuntime, SandboxRuntime};
use serde_json::{Value, json};

const TOKEN: &str = "cwd-token-0123456789abcdef";

/// Runs `argv` in `cwd` through Keeper; the status and, on success, the frames.
async fn exec(base: &str, argv: &[&str], cwd: Option<&str>) -> (u16, Vec<Value>) {
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{base}/v1/runtimes/ws.crew"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let id = put.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = http
        .post(format!("{base}/v1/runtimes/{id}/exec"))
        .bearer_auth(TOKEN)
        .json(&json!({"argv": argv, "cwd": cwd}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let frames = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (status, frames)
}

fn lines(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .filter(|f| f["type"] == "line")
        .filter_map(|f| f["content"].as_str())
        .collect()
}

async fn a_link_out_is_refused_and_a_link_inside_followed(local: Arc<dyn ContainerRuntime>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(executor::keeper::server::serve(
        listener,
        local,
        Secret::new(TOKEN),
        std::future::pending(),
    ));
    let (status, _) = exec(
        &base,
        &["sh", "-c", "mkdir -p sub; ln -s / escape; ln -s sub inside"],
        None,
    )
    .await;
    assert_eq!(status, 200);
    for escape in ["escape", "escape/tmp", "../", "/"] {
        let (status, frames) = exec(&base, &["pwd"], Some(escape)).await;
        assert_eq!(status, 400, "cwd {escape}: {frames:?}");
    }
    let (status, frames) = exec(&base, &["sh", "-c", "touch here; ls"], Some("inside")).await;
    assert_eq!(status, 200);
    assert_eq!(lines(&frames), ["here"], "{frames:?}");
}

#[tokio::test]
async fn process_runtime_cwd_stays_inside_the_crew_directory() {
    let dir = tempfile::tempdir().unwrap();
    a_link_out_is_refused_and_a_link_inside_followed(Arc::new(ProcessRuntime::new(dir.path())))
        .await;
}

#[tokio::test]
async fn sandbox_runtime_cwd_stays_inside_the_crew_directory() {
    if !procs::bwrap_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = SandboxRuntime::new(dir.path()).unwrap();
    a_link_out_is_refused_and_a_link_inside_followed(Arc::new(local)).await;
}
