//! The agent's environment, built from nothing (docs/runtimes.md): a fixed `PATH`, `HOME` (the
//! crew's directory as the agent sees it), `LANG`, then the agent's declared `env` (which may
//! replace any of them) and the `CREWSHIP_*` variables the executor adds to it.
//!
//! Why built and never inherited: the executor's own environment holds its credentials (in the
//! Lambda executor, the function role's AWS keys); an agent handed untrusted webhook text must
//! not be able to read them with `env`. Every runtime (process, sandbox, Keeper's) uses this.

use std::ffi::OsString;

use crewship_core::secret::Secret;

/// `PATH` unless the agent declares one: the system's directories only, never the runner's.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// `LANG` unless the agent declares one: UTF-8 without depending on installed locales.
pub const DEFAULT_LANG: &str = "C.UTF-8";

/// The whole environment of an agent whose home is `home`, in the order it is set: defaults
/// first, so a declared variable of the same name wins.
pub fn build(home: &str, declared: &[(String, Secret)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), home.into()),
        ("LANG".into(), DEFAULT_LANG.into()),
    ];
    for (key, value) in declared {
        let key = OsString::from(key);
        env.retain(|(k, _)| *k != key);
        env.push((key, value.expose().into()));
    }
    env
}

/// Makes this process non-dumpable (`PR_SET_DUMPABLE` 0), once a local runtime exists: the
/// kernel then refuses its `/proc/<pid>/environ`, `mem` and `maps` to processes of the same user
/// that lack `CAP_SYS_PTRACE` — the agents it starts, which would otherwise read the runner's
/// own credentials there. An agent running as root keeps that capability and can still read
/// them (docs/runtimes.md: run the runner as an unprivileged user). Agents are not affected:
/// `execve` makes each dumpable again. Costs: no core dumps, and a debugger must run as root.
pub fn hide_runner_environment() {
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "could not make the runner non-dumpable; agents of its user can read its environment in /proc");
    }
}

/// The `PATH` of a built environment.
pub fn path_of(env: &[(OsString, OsString)]) -> Option<&std::ffi::OsStr> {
    env.iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(env: &[(OsString, OsString)]) -> Vec<&str> {
        env.iter().map(|(k, _)| k.to_str().unwrap()).collect()
    }

    #[test]
    fn only_the_defaults_and_the_declared_variables() {
        let env = build(
            "/work",
            &[
                ("TOKEN".into(), Secret::new("t")),
                ("CREWSHIP_MESSAGE".into(), Secret::new("m")),
            ],
        );
        assert_eq!(
            names(&env),
            ["PATH", "HOME", "LANG", "TOKEN", "CREWSHIP_MESSAGE"]
        );
        assert_eq!(path_of(&env).unwrap(), DEFAULT_PATH);
        assert_eq!(env[1].1, "/work");
    }

    #[test]
    fn a_declared_variable_replaces_a_default() {
        let env = build("/work", &[("PATH".into(), Secret::new("/opt/agent/bin"))]);
        assert_eq!(names(&env), ["HOME", "LANG", "PATH"]);
        assert_eq!(path_of(&env).unwrap(), "/opt/agent/bin");
    }
}
