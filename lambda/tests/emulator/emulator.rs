//! cargo-lambda's Runtime API emulator and the functions' bootstraps under it.
//!
//! `cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API and the invoke and
//! function-URL endpoints, and builds nothing: each bootstrap (the debug bin `cargo test`
//! built) is started here, as Lambda starts one, with `AWS_LAMBDA_RUNTIME_API` at its own path
//! (`/.rt/<bin>`) and the environment the template gives it; several bootstraps of one function
//! are several instances polling for its invocations. cargo-lambda comes from PyPI, pinned,
//! into `.venv-cargo-lambda` (installed once, as moto is).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crewship_test_support::moto::free_port;
use crewship_test_support::venv::{Pinned, repo_root};
use serde_json::Value;

pub const CARGO_LAMBDA_VERSION: &str = "1.9.2";

/// The `cargo-lambda` executable, installed if absent.
fn cargo_lambda() -> PathBuf {
    Pinned {
        venv: ".venv-cargo-lambda",
        package: "cargo-lambda",
        extras: "",
        version: CARGO_LAMBDA_VERSION,
    }
    .install()
    .join("cargo-lambda")
}

/// Kills the child by PID when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The emulator, on a free loopback port.
pub struct Emulator {
    _process: Process,
    pub addr: SocketAddr,
}

/// Its client side: function URLs and synchronous invocations (cheap to clone).
#[derive(Clone)]
pub struct Lambda {
    addr: SocketAddr,
    http: reqwest::Client,
}

impl Emulator {
    /// Starts `cargo lambda watch` in the workspace (it reads the workspace's bins, which are the
    /// function names it accepts), its output into `logs`.
    pub fn start(logs: &Path) -> Self {
        let binary = cargo_lambda();
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(logs.join("cargo-lambda.log")).unwrap();
            let child = Command::new(&binary)
                .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
                .args(["-A", "127.0.0.1", "-P", &port.to_string()])
                .current_dir(repo_root())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("starting cargo lambda watch");
            let mut process = Process(child);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Self {
                        _process: process,
                        addr,
                    };
                }
                if process.0.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!(
            "cargo lambda watch did not start: {}",
            std::fs::read_to_string(logs.join("cargo-lambda.log")).unwrap_or_default()
        );
    }

    pub fn client(&self) -> Lambda {
        Lambda {
            addr: self.addr,
            http: reqwest::Client::new(),
        }
    }

    /// Starts one instance of the function `bin` (a bootstrap built by `cargo test`) with
    /// exactly `env` besides `PATH` and what the Lambda service sets; output into
    /// `<logs>/<bin>-<n>.log`.
    pub fn start_function(
        &self,
        bin: &str,
        bootstrap: &str,
        env: &[(String, String)],
        logs: &Path,
        instance: usize,
    ) -> Instance {
        let log_path = logs.join(format!("{bin}-{instance}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bootstrap)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/.rt/{bin}", self.addr),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", bin)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bootstrap}: {e}"));
        Instance {
            process: Process(child),
            log: log_path,
        }
    }
}

impl Lambda {
    /// `http://<addr>/lambda-url/<bin>`, the function URL of `bin`.
    pub fn function_url(&self, bin: &str) -> String {
        format!("http://{}/lambda-url/{bin}", self.addr)
    }

    /// Invokes `bin` synchronously (the Lambda Invoke API), its answer parsed.
    pub async fn invoke(&self, bin: &str, event: &Value) -> Value {
        let url = format!(
            "http://{}/2015-03-31/functions/{bin}/invocations",
            self.addr
        );
        let response = self
            .http
            .post(url)
            .json(event)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("invoking {bin}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "invoking {bin}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{bin} answered {text:?}: {e}"))
    }
}

/// One running function instance.
pub struct Instance {
    process: Process,
    pub log: PathBuf,
}

impl Instance {
    /// Its output so far, and whether it has exited (a cold start that failed).
    pub fn report(&mut self) -> String {
        let exited = self.process.0.try_wait().ok().flatten();
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        match exited {
            Some(status) => format!("{} exited ({status}):\n{output}", self.log.display()),
            None => format!("{}:\n{output}", self.log.display()),
        }
    }
}
