//! Stopping an exec's process tree inside its container. The engine makes every exec the
//! leader of a session and process group of its own, so the group is the exec's pid as the
//! container sees it: the host pid the engine reports is translated through the host's
//! `/proc/<pid>/status` (`NSpid`), and the group is signalled by a `kill` exec in the same
//! container, as the same user (no capability needed, nothing of the host is signalled).

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions};

use super::client::call;
use super::error::DockerError;

/// The exec's pid inside the container, once the engine reports it; `None` when the process
/// already ended (its group can no longer be found) or its host `/proc` is not visible (the
/// engine runs on another machine).
pub async fn container_pid(docker: &Docker, exec_id: &str) -> Option<i32> {
    // The engine answers the attach before the process starts: the pid is 0 for a moment.
    for delay_ms in [5, 10, 20, 50, 100, 200, 400, 800] {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        let info = call("inspect exec", docker.inspect_exec(exec_id))
            .await
            .ok()?;
        match info.pid {
            Some(pid) if pid > 0 => return namespaced_pid(pid),
            _ if info.running == Some(false) && info.exit_code.is_some() => return None,
            _ => {}
        }
    }
    None
}

/// The innermost pid of host pid `pid` (the last field of `NSpid:`).
fn namespaced_pid(pid: i64) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_nspid(&status)
}

fn parse_nspid(status: &str) -> Option<i32> {
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// Sends `signal` (`TERM`, `KILL`) to process group `pgid` in `container`, without waiting.
pub async fn signal_group(
    docker: &Docker,
    container: &str,
    pgid: i32,
    signal: &'static str,
) -> Result<(), DockerError> {
    // `sh`'s builtin `kill`: images (node:22-slim among them) need not ship `/bin/kill`.
    let script = format!("kill -s {signal} -{pgid} 2>/dev/null");
    let exec = call(
        "create kill exec",
        docker.create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), script]),
                ..Default::default()
            },
        ),
    )
    .await?;
    let detached = StartExecOptions {
        detach: true,
        ..Default::default()
    };
    call(
        "start kill exec",
        docker.start_exec(&exec.id, Some(detached)),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_namespace_pid_is_taken() {
        let status = "Name:\tsh\nTgid:\t4242\nNSpid:\t4242\t17\nNSpgid:\t4242\t17\n";
        assert_eq!(parse_nspid(status), Some(17));
        assert_eq!(parse_nspid("NSpid:\t99\n"), Some(99));
        assert_eq!(parse_nspid("Name:\tsh\n"), None);
    }
}
