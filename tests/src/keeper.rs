//! Harness for Keeper tests: starts `local-runner keeper` on a free loopback port, with its own
//! work directory, and stops it on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use crate::runner_binary;

pub struct KeeperProcess {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl KeeperProcess {
    /// Starts the server with `token` (passed through the environment, as in production).
    pub fn start(token: &str) -> anyhow::Result<Self> {
        Self::start_with_env(token, &[])
    }

    /// [`KeeperProcess::start`] with extra environment variables (`CREWSHIP_…` settings).
    pub fn start_with_env(token: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_opts(token, env, &[])
    }

    /// [`KeeperProcess::start_with_env`] with extra arguments of `keeper` (`--runtime sandbox`).
    pub fn start_opts(token: &str, env: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(runner_binary())
            .envs(env.iter().copied())
            .arg("--work-dir")
            .arg(dir.path().join("work"))
            .args(["keeper", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("CREWSHIP_KEEPER_TOKEN", token)
            .env("RUST_LOG", "debug")
            .env_remove("CREWSHIP_LISTEN")
            .env_remove("CREWSHIP_RUNTIME")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting local-runner keeper")?;
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        out.read_line(&mut first)?;
        let Some(url) = first.trim().strip_prefix("keeper listening on ") else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .expect("piped")
                .read_to_string(&mut err)?;
            bail!("keeper did not start: {first}{err}");
        };
        let url = url.to_owned();
        let stdout = Arc::new(Mutex::new(first.clone()));
        let stderr = Arc::new(Mutex::new(String::new()));
        capture(out, stdout.clone());
        capture(
            BufReader::new(child.stderr.take().expect("piped")),
            stderr.clone(),
        );
        Ok(Self {
            child,
            url,
            dir,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where Keeper runs the crew's agents: one directory per workspace and crew.
    pub fn crew_dir(&self, workspace: &str, crew: &str) -> PathBuf {
        self.dir.path().join("work").join(workspace).join(crew)
    }

    /// SIGKILL, and reap it.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for KeeperProcess {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

fn capture(mut reader: impl BufRead + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}
