//! A real headless Chromium (Debian's `chromium` and `chromium-driver`, installed by `.ci/run`)
//! driven over WebDriver with `fantoccini`. Nothing here downloads a browser; when either
//! program is missing, starting fails with the command that installs it — a browser test never
//! passes by skipping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Flags from TOOLCHAIN.md: headless, as root, and without any attempt to reach the internet.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session of `width`×`height`;
    /// `extra` flags are added to Chromium's (e.g. `--force-dark-mode`).
    pub async fn start(width: u32, height: u32, extra: &[&str]) -> anyhow::Result<Self> {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(tool).exists() {
                bail!("{tool} is missing: run `apt-get install -y chromium chromium-driver`");
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        args.extend(extra.iter().map(|f| f.to_string()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let mut browser = None;
        let mut driver = Some(driver);
        while browser.is_none() {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => browser = Some(client),
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    if let Some(mut d) = driver.take() {
                        let _ = d.kill();
                        let _ = d.wait();
                    }
                    bail!("no WebDriver session within 30 s: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Ok(Self {
            client: browser.expect("connected"),
            driver: driver.expect("running"),
            _profile: profile,
        })
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Polls `script` until it returns something truthy (which is returned), failing after
    /// `limit` with `what` and the last value seen.
    pub async fn until(&self, what: &str, script: &str, limit: Duration) -> anyhow::Result<Value> {
        let start = Instant::now();
        loop {
            let value = self.js(script, vec![]).await?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return Ok(value);
            }
            if start.elapsed() > limit {
                // The page as it was is the best clue to why.
                let shot = self
                    .screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                bail!("timed out waiting for {what}; last value: {value}; screenshot: {shot:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport as `<target>/ui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session (Chromium exits with it) and then the driver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let result = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        Ok(result?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/ui-screenshots`, next to the build's profile directories.
pub fn screenshot_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("ui-screenshots");
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("ui-screenshots")
}
