//! bubblewrap's command line for one agent: what the sandbox contains (docs/runtimes.md).
//!
//! Only the system's programs and libraries (`/usr` and the merged-`/usr` links), a short list
//! of `/etc` files that programs need to run (the dynamic linker's cache, users, name service,
//! TLS roots), fresh `/proc`, `/dev` and `/tmp`, and the crew's directory read-write at
//! [`CREW_DIR`]. Nothing else of the host: not its other crews, not the runner's configuration,
//! not `/home`, `/root`, `/run` or the rest of `/etc`.

use std::ffi::OsString;
use std::path::Path;

/// Where the crew's directory appears in the sandbox; also the agent's cwd and `HOME`.
pub const CREW_DIR: &str = "/work";

/// Mounted read-only as they are on the host (a link stays a link, so merged-`/usr` systems
/// and split ones both work).
const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The `/etc` a dynamically linked program, a shell script and a TLS client need; each only if
/// the host has it.
const ETC: &[&str] = &[
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
];

/// Name resolution, needed only with a network.
const ETC_NETWORK: &[&str] = &[
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
];

/// Everything before the agent's own command: bubblewrap's options, ending in `--`.
pub fn sandbox(crew_dir: &Path, network: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::with_capacity(64);
    fn push(args: &mut Vec<OsString>, items: &[&str]) {
        args.extend(items.iter().map(OsString::from));
    }
    // New user, pid, ipc, uts, cgroup and network namespaces; the host's network only if asked.
    push(&mut args, &["--unshare-all"]);
    if network {
        push(&mut args, &["--share-net"]);
    }
    // The sandbox dies with the runner (its pid 1 gets SIGKILL, taking every process in the
    // pid namespace with it); no terminal to inject input into; no capabilities, even as root.
    push(
        &mut args,
        &["--die-with-parent", "--new-session", "--cap-drop", "ALL"],
    );
    push(&mut args, &["--hostname", "crewship"]);
    for path in SYSTEM {
        system_path(&mut args, path);
    }
    let etc = ETC.iter().chain(if network { ETC_NETWORK } else { &[] });
    for path in etc {
        args.extend(["--ro-bind-try".into(), (*path).into(), (*path).into()]);
    }
    push(
        &mut args,
        &["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
    );
    args.extend(["--bind".into(), crew_dir.into(), CREW_DIR.into()]);
    push(&mut args, &["--chdir", CREW_DIR, "--"]);
    args
}

/// A system directory as the host has it: a symbolic link is recreated (bubblewrap would
/// otherwise mount what it points to twice), a directory is bound read-only, a missing one
/// is left out.
fn system_path(args: &mut Vec<OsString>, path: &str) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if let Ok(target) = std::fs::read_link(path) {
                args.extend(["--symlink".into(), target.into(), path.into()]);
            }
        }
        Ok(meta) if meta.is_dir() => {
            args.extend(["--ro-bind".into(), path.into(), path.into()]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn no_network_unless_asked() {
        let closed = text(&sandbox(Path::new("/srv/w/c"), false));
        assert!(
            closed.starts_with("--unshare-all --die-with-parent"),
            "{closed}"
        );
        assert!(!closed.contains("--share-net") && !closed.contains("resolv.conf"));
        let open = text(&sandbox(Path::new("/srv/w/c"), true));
        assert!(open.contains("--unshare-all --share-net"), "{open}");
        assert!(open.contains("/etc/resolv.conf"), "{open}");
    }

    #[test]
    fn the_crew_dir_is_the_only_writable_host_path() {
        let args = text(&sandbox(Path::new("/srv/w/c"), false));
        assert!(
            args.ends_with("--bind /srv/w/c /work --chdir /work --"),
            "{args}"
        );
        assert_eq!(args.matches("--bind ").count(), 1, "{args}");
        for hidden in ["/home", "/root", "/run", "/srv/w "] {
            assert!(!args.contains(hidden), "{hidden} in {args}");
        }
    }
}
