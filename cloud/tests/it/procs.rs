//! The cloud-path bins as child processes: started with an environment, killed by PID on drop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

pub struct Proc {
    pub child: Child,
    /// `http://ADDR` for the server; empty for executors.
    pub base: String,
}

fn command(bin: &str, env: &[(&'static str, String)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    cmd
}

impl Proc {
    /// Starts `crewship-server` and waits for its address.
    pub fn server(env: &[(&'static str, String)]) -> Self {
        let mut child = command(env!("CARGO_BIN_EXE_crewship-server"), env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting crewship-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("reading the server's first line");
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let mut err = String::new();
            let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
            let _ = child.kill();
            panic!("crewship-server did not start: {line}{err}");
        };
        let base = base.to_owned();
        // Drain stderr so the server never blocks on a full pipe.
        let mut stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Self { child, base }
    }

    /// Starts `crewship-executor`, its log going to `log`.
    pub fn executor(env: &[(&'static str, String)], log: &std::path::Path) -> Self {
        let log = std::fs::File::create(log).expect("creating the executor log");
        let child = command(env!("CARGO_BIN_EXE_crewship-executor"), env)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting crewship-executor");
        Self {
            child,
            base: String::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no final writes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
