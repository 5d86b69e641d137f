//! Harness for end-to-end tests: starts the real `local-runner` binary on a free loopback port
//! with a configuration file, and talks to it over real HTTP.
//!
//! - [`Runner`]: one running binary, its base URL, captured output, stopped on drop.
//! - [`sign`]: the `X-Signature` a sender computes (with the core's [`Signer`]).
//! - [`browser`]: a headless Chromium over WebDriver, for the dashboard.
//! - [`burst`]: many distinct signed deliveries from concurrent connections.
//! - [`cli`]: the same binary's client subcommands, run as child processes.
//! - [`keeper`]: a `local-runner keeper` process for tests of the Keeper runtime.
//! - [`tls`]: a throw-away CA and server certificate, for Keeper over HTTPS.
//! - [`ws`]: a WebSocket client for `/ws`.

pub mod browser;
pub mod burst;
pub mod cli;
pub mod keeper;
pub mod tls;
pub mod ws;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

pub use crewship_core::signer::Signer;

/// A secret of the right length for test agents.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "test-token";

/// The `local-runner` binary of this build. `cargo test` does not build another package's
/// binaries, and a binary left over from an earlier build would test old code, so the first
/// call in each test process runs `cargo build -p local-runner` (a no-op when it is fresh).
pub fn runner_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            // target/<profile>/deps/<test> → target/<profile>/local-runner
            let dir = exe.parent().and_then(Path::parent).expect("target dir");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "-p", "local-runner"]);
            if dir.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo build");
            assert!(status.success(), "building local-runner failed");
            dir.join("local-runner")
        })
        .clone()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    Signer::new(secret).signature(body)
}

/// POSTs `body` as JSON to a trigger URL, signed with `secret`; the status and the JSON answer.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &str,
) -> reqwest::Result<(u16, Value)> {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature", sign(secret, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// How [`Runner::start_opts`] starts the binary.
#[derive(Debug, Default)]
pub struct StartOptions<'a> {
    /// Extra command-line arguments.
    pub args: &'a [&'a str],
    /// `RUST_LOG` (default `info`).
    pub rust_log: Option<&'a str>,
    /// A program and arguments the binary is run under, e.g. `["prlimit", "--nofile=256"]`.
    pub wrapper: &'a [&'a str],
    /// Extra environment variables of the binary.
    pub env: &'a [(&'a str, &'a str)],
    /// Opens the runner's directory to every user, for a binary the wrapper starts as another.
    pub shared_dir: bool,
}

pub struct Runner {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub http: reqwest::Client,
}

impl Runner {
    /// Starts the binary with `config` (TOML). The work directory and listen address are set
    /// by the harness.
    pub fn start(config: &str) -> anyhow::Result<Self> {
        Self::start_with(config, &[])
    }

    pub fn start_with(config: &str, extra_args: &[&str]) -> anyhow::Result<Self> {
        Self::start_opts(
            config,
            &StartOptions {
                args: extra_args,
                ..StartOptions::default()
            },
        )
    }

    pub fn start_opts(config: &str, options: &StartOptions<'_>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        if options.shared_dir {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        }
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config)?;
        let mut command = match options.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(runner_binary());
                c
            }
            None => Command::new(runner_binary()),
        };
        let mut child = command
            .arg("--config")
            .arg(&config_path)
            .args(["--listen", "127.0.0.1:0", "--work-dir"])
            .arg(dir.path().join("work"))
            .args(options.args)
            .env("RUST_LOG", options.rust_log.unwrap_or("info"))
            .envs(options.env.iter().copied())
            .env_remove("CREWSHIP_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting local-runner")?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        out.read_line(&mut first)?;
        let Some(base) = first.trim().strip_prefix("local-runner listening on ") else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("piped")
                .read_to_string(&mut err)?;
            bail!("local-runner did not start: {first}{err}");
        };
        let base = base.to_owned();
        stdout.lock().unwrap().push_str(&first);
        spawn_capture(out, stdout.clone());
        spawn_capture(
            BufReader::new(child.stderr.take().expect("piped")),
            stderr.clone(),
        );
        Ok(Self {
            child,
            base,
            dir,
            stdout,
            stderr,
            http: reqwest::Client::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap it: nothing of the runner gets to clean up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A crew's working directory, where the local process runtime runs its agents: one per
    /// workspace and crew.
    pub fn crew_dir(&self, workspace: &str, crew: &str) -> PathBuf {
        self.dir.path().join("work").join(workspace).join(crew)
    }

    pub fn trigger_url(&self, crew: &str, agent: &str) -> String {
        format!("{}/api/v1/webhooks/{crew}/{agent}/trigger", self.base)
    }

    /// Sends a body signed with `X-Signature` and returns the status and JSON answer.
    pub async fn trigger(
        &self,
        crew: &str,
        agent: &str,
        secret: &str,
        body: &str,
    ) -> anyhow::Result<(u16, Value)> {
        Ok(post_signed(&self.http, &self.trigger_url(crew, agent), secret, body).await?)
    }

    pub async fn get_json(&self, path: &str, token: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, deep_json(&response.bytes().await?)))
    }

    /// Polls the run until it is terminal (or `limit` passes, which fails the test).
    pub async fn wait_for_run(
        &self,
        run_id: &str,
        token: &str,
        limit: Duration,
    ) -> anyhow::Result<Value> {
        let start = Instant::now();
        loop {
            let (status, run) = self
                .get_json(&format!("/api/v1/runs/{run_id}"), token)
                .await?;
            if status != 200 {
                bail!("GET run answered {status}: {run}");
            }
            if !matches!(run["status"].as_str(), Some("QUEUED" | "RUNNING")) {
                return Ok(run);
            }
            if start.elapsed() > limit {
                bail!("run {run_id} still {} after {limit:?}", run["status"]);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a body signed with [`SECRET`], waits for the run to end (within 60 s) and returns
    /// the run and its log lines' contents, in order.
    pub async fn run_to_end(
        &self,
        crew: &str,
        agent: &str,
        body: &str,
        token: &str,
    ) -> anyhow::Result<(Value, Vec<String>)> {
        let (status, answer) = self.trigger(crew, agent, SECRET, body).await?;
        if status != 202 {
            bail!("trigger answered {status}: {answer}");
        }
        let run_id = answer["run_id"].as_str().context("run_id")?.to_owned();
        let run = self
            .wait_for_run(&run_id, token, Duration::from_secs(60))
            .await?;
        let lines = self
            .run_logs(agent, &run_id, token)
            .await?
            .iter()
            .filter_map(|e| e["content"].as_str().map(str::to_owned))
            .collect();
        Ok((run, lines))
    }

    /// Every log entry of a run, oldest first.
    pub async fn run_logs(
        &self,
        agent: &str,
        run_id: &str,
        token: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let (status, logs) = self
            .get_json(
                &format!("/api/v1/agents/{agent}/logs?run_id={run_id}&limit=1000"),
                token,
            )
            .await?;
        if status != 200 {
            bail!("GET logs answered {status}: {logs}");
        }
        Ok(logs.as_array().cloned().unwrap_or_default())
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        signal(self.child.id(), "TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("local-runner did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// All output so far, stdout and stderr.
    pub fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_capture(mut reader: impl BufRead + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

/// Sends a signal by name to a process we started.
/// JSON without serde_json's default nesting limit of 128 levels: a run record carries its
/// payload, which may nest as deep as the server's `max_json_depth` (up to 1024) allows.
/// `Value::Null` for what is not JSON.
pub fn deep_json(bytes: &[u8]) -> Value {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    Value::deserialize(&mut de).unwrap_or(Value::Null)
}

pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// Reads a pid a test agent wrote into a file, waiting for it to appear.
pub async fn read_pid(path: &Path) -> anyhow::Result<u32> {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return Ok(pid);
        }
        if start.elapsed() > Duration::from_secs(20) {
            bail!("{} never appeared", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
