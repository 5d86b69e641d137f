//! A process's descendants, read from `/proc/<pid>/task/<tid>/children`: how a SIGTERM reaches
//! an agent inside a sandbox whose outer processes must not receive it.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Processes can fork without end; a tree this large is not an agent's.
const MAX_PROCESSES: usize = 4096;

/// Sends SIGTERM to every descendant of `root` more than `skip` generations below it. Best
/// effort: a process that ends meanwhile is simply gone, and the SIGKILL after the grace
/// period reaches the whole tree anyway.
pub(super) fn signal_below(root: Pid, skip: usize) {
    let mut generation = vec![root];
    let mut depth = 0;
    let mut seen = 0;
    while !generation.is_empty() && seen < MAX_PROCESSES {
        if depth > skip {
            for pid in &generation {
                let _ = kill(*pid, Signal::SIGTERM);
            }
        }
        generation = generation.iter().flat_map(|p| children(*p)).collect();
        seen += generation.len();
        depth += 1;
    }
}

/// The children of every thread of `pid` (a child belongs to the thread that forked it).
fn children(pid: Pid) -> Vec<Pid> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .map(Pid::from_raw)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_found_below_its_parent() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = Pid::this();
        let pid = Pid::from_raw(child.id() as i32);
        assert!(children(me).contains(&pid));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
