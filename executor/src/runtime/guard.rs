//! The guard: a watcher process beside each local agent that SIGKILLs the agent's process group
//! when the runner dies, however it dies (SIGKILL, OOM killer, a panic that aborts).
//!
//! How: the watcher is `/bin/sh` blocked reading a pipe whose only writer is the runner (the
//! write end is close-on-exec, so no agent holds it). When the runner's process ends, the
//! kernel closes the write end, the read returns end-of-file and the watcher kills the group.
//! A parent-death signal alone would not do: it reaches the agent, not the grandchildren it
//! left in its group, and setting one needs a `pre_exec` hook, which forces `fork`.
//!
//! The watcher is in a group of its own and ignores the terminal's signals, so a Ctrl-C that
//! stops the runner gracefully does not take the guard with it before the shutdown grace.

use std::process::Stdio;

use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Blocks until end-of-file on stdin, then kills the process group named by `$0`.
const WATCH: &str = "trap '' INT TERM HUP QUIT; read -r _; kill -KILL -$0";

pub(super) struct Guard {
    // Dropped in order: the watcher is killed before its pipe closes, so a watcher of an
    // agent that ended normally never fires at a group id the system may have reused.
    watcher: Child,
    _runner_alive: std::io::PipeWriter,
}

impl Guard {
    /// Starts the watcher of `pgid`.
    pub(super) fn watch(pgid: Pid) -> std::io::Result<Self> {
        let (read, write) = std::io::pipe()?;
        let watcher = Command::new("/bin/sh")
            .args(["-c", WATCH])
            .arg(pgid.to_string())
            .env_clear()
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        Ok(Self {
            watcher,
            _runner_alive: write,
        })
    }

    /// The runner has dealt with the agent's group itself: the watcher goes (tokio reaps it).
    pub(super) fn release(mut self) {
        let _ = self.watcher.start_kill();
    }
}
