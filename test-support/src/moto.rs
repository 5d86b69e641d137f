//! moto, a wire-compatible DynamoDB / SQS / S3 server, provisioned by the tests themselves:
//! a pinned `moto[server]` in `.venv-moto` at the repository root (created on first use, under a
//! file lock so concurrent test binaries install it once), one server per test on a free
//! loopback port, stopped by PID when the guard drops. A missing `python3` fails loudly.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, Region};
use fs4::fs_std::FileExt;

pub const MOTO_VERSION: &str = "5.2.5";
pub const REGION: &str = "us-east-1";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The `moto_server` executable, installed into `.venv-moto` if absent.
pub fn moto_server_binary() -> PathBuf {
    let root = repo_root();
    let venv = root.join(".venv-moto");
    let server = venv.join("bin").join("moto_server");
    let marker = venv.join(format!("installed-moto-{MOTO_VERSION}"));
    if marker.exists() {
        return server;
    }
    let lock = File::create(root.join(".venv-moto.lock")).expect("creating .venv-moto.lock");
    lock.lock_exclusive().expect("locking .venv-moto.lock");
    if !marker.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect(
                "python3 is required to run the AWS adapter tests (it installs moto into \
                 .venv-moto); install python3 with the venv module",
            );
        assert!(status.success(), "python3 -m venv .venv-moto failed");
        let status = Command::new(venv.join("bin").join("pip"))
            .args(["install", "-q", &format!("moto[server]=={MOTO_VERSION}")])
            .status()
            .expect("running pip");
        assert!(
            status.success(),
            "pip install moto[server]=={MOTO_VERSION} failed"
        );
        File::create(&marker).expect("writing the install marker");
    }
    FileExt::unlock(&lock).expect("unlocking");
    server
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port")
}

/// One moto server; killed (by PID) when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let binary = moto_server_binary();
        // A port picked free can be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting moto_server");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Self {
                        child,
                        endpoint: format!("http://{addr}"),
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start");
    }

    /// The environment a child process needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }

    /// SDK configuration pointing at this server, without touching the process environment.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
