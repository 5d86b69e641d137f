//! Resolving an agent's program name against the PATH its process will get.
//!
//! Why: when a command's environment sets PATH and the program is a bare name, the standard
//! library cannot use `posix_spawn` and falls back to `fork` + `exec`. `fork` copies the runner's
//! page tables, so every agent start costs time proportional to the runner's memory and stalls
//! its other threads (the profile in docs/performance.md: most of the runner's CPU under load).
//! With an absolute path, `posix_spawn` (`vfork`-like) is used and the cost is flat.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The first executable file named `program` on `path` (`:`-separated), or `program` unchanged
/// when it contains a `/` or is not found (then spawning reports the usual error).
pub fn resolve(program: &str, path: Option<&OsStr>) -> PathBuf {
    if program.contains('/') || program.is_empty() {
        return PathBuf::from(program);
    }
    path.into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| PathBuf::from(program))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_to_the_first_executable_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Not executable in `a`, executable in `b`: `b` wins.
        std::fs::write(a.join("agent"), "").unwrap();
        std::fs::write(b.join("agent"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(b.join("agent"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(resolve("agent", Some(&path)), b.join("agent"));
    }

    #[test]
    fn paths_and_unknown_names_are_left_alone() {
        let path = std::env::join_paths(["/nonexistent-dir"]).unwrap();
        assert_eq!(
            resolve("./agent.sh", Some(&path)),
            PathBuf::from("./agent.sh")
        );
        assert_eq!(resolve("/bin/sh", None), PathBuf::from("/bin/sh"));
        assert_eq!(
            resolve("no-such-agent", Some(&path)),
            PathBuf::from("no-such-agent")
        );
    }
}
