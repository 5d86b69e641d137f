//! Runs `local-runner` client subcommands (`agents …`, `secret …`, `trigger`) as child
//! processes, configured only through environment variables, the way an operator's shell does.

use std::process::Stdio;

use anyhow::Context;

use crate::runner_binary;

#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The standard output as JSON, failing with everything printed when it is not.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("not JSON:\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs the binary with `args` and a clean environment plus `env`.
pub async fn run_cli(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<CliOutput> {
    let mut command = tokio::process::Command::new(runner_binary());
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    let output = command.output().await.context("running local-runner")?;
    Ok(CliOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
