//! The sandbox runtime: each agent under bubblewrap (`bwrap`), for hosts without a container
//! engine. New user, pid, ipc, uts and network namespaces; the system read-only; the crew's
//! directory read-write at `/work`; a private `/tmp`; no network unless the agent asks for
//! `bridge` (the host's); the environment built from nothing. What that does and does not
//! isolate: docs/runtimes.md.
//!
//! - `args`: bubblewrap's command line, i.e. what the sandbox contains.
//!
//! The agent's environment is bubblewrap's own (set on the `bwrap` process, which passes it on)
//! rather than `--setenv` arguments: the agent's secrets would be in `bwrap`'s command line,
//! which every user of the host can read in `/proc/<pid>/cmdline`.

mod args;

pub use args::CREW_DIR;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use crewship_core::isolation::Network;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, Placement, RuntimeError, RuntimeId,
};

use super::agent_env;
use super::child::{self, ChildError, Launch, Polite};
use super::result_file::ResultFile;

/// Why the sandbox runtime cannot start or place an agent; the runtime error's source.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap (bwrap) is not installed: install the `bubblewrap` package")]
    NotInstalled,
    #[error("the probe sandbox could not be prepared")]
    ProbeSetup(#[source] std::io::Error),
    #[error("bwrap could not be run")]
    ProbeSpawn(#[source] std::io::Error),
    /// bubblewrap's own message, e.g. `No permissions to create new namespace`.
    #[error(
        "bubblewrap cannot create a sandbox on this host ({message}); unprivileged user \
         namespaces may be disabled (sysctl user.max_user_namespaces, \
         kernel.unprivileged_userns_clone, or an AppArmor restriction)"
    )]
    Refused { message: String },
    #[error(
        "the sandbox runtime cannot join network {0:?}: it offers \"none\" or \"bridge\" (the \
         host's network); named networks need the docker runtime"
    )]
    NamedNetwork(String),
    #[error("bad runtime id")]
    BadRuntimeId,
}

pub struct SandboxRuntime {
    root: PathBuf,
    bwrap: PathBuf,
}

impl SandboxRuntime {
    /// Crews get directories under `root`, created on demand. Finds `bwrap` on the runner's
    /// `PATH` and runs `true` in a sandbox once, so a host that cannot sandbox fails at start
    /// with the reason rather than at every run.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, RuntimeError> {
        let path = std::env::var_os("PATH").unwrap_or_else(|| agent_env::DEFAULT_PATH.into());
        let bwrap = super::program::resolve("bwrap", Some(&path));
        if !bwrap.is_absolute() {
            return Err(RuntimeError::unavailable(SandboxError::NotInstalled));
        }
        probe(&bwrap).map_err(RuntimeError::unavailable)?;
        // The sandbox hides the runner's processes already; this also covers anything else
        // of the runner's user on the host.
        agent_env::hide_runner_environment();
        Ok(Self {
            root: root.into(),
            bwrap,
        })
    }
}

fn probe(bwrap: &Path) -> Result<(), SandboxError> {
    let dir = std::env::temp_dir().join(format!("crewship-sandbox-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(SandboxError::ProbeSetup)?;
    let output = std::process::Command::new(bwrap)
        .args(args::sandbox(&dir, false))
        .arg("true")
        .env_clear()
        .stdin(Stdio::null())
        .output();
    let _ = std::fs::remove_dir(&dir);
    let output = output.map_err(SandboxError::ProbeSpawn)?;
    if output.status.success() {
        return Ok(());
    }
    let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(SandboxError::Refused {
        message: if message.is_empty() {
            output.status.to_string()
        } else {
            message
        },
    })
}

/// `<net|none>:<crew dir>`: the runtime id carries the network its agents were placed with, so
/// two agents of one crew asking for different networks each get what they asked for.
fn runtime_id(network: bool, dir: &Path) -> RuntimeId {
    let net = if network { "net" } else { "none" };
    RuntimeId(format!("{net}:{}", dir.display()))
}

fn parse_id(id: &RuntimeId) -> Result<(bool, PathBuf), RuntimeError> {
    let bad = || RuntimeError::spawn(SandboxError::BadRuntimeId);
    let (net, dir) = id.0.split_once(':').ok_or_else(bad)?;
    let network = match net {
        "net" => true,
        "none" => false,
        _ => return Err(bad()),
    };
    Ok((network, PathBuf::from(dir)))
}

#[async_trait]
impl ContainerRuntime for SandboxRuntime {
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError> {
        let network = match &place.isolation.network {
            Network::None => false,
            Network::Bridge => true,
            // Never widened to the host's network: refused, naming what would work.
            Network::Named(name) => {
                return Err(RuntimeError::ensure(
                    &place.crew,
                    SandboxError::NamedNetwork(name.clone()),
                ));
            }
        };
        let dir = super::process::crew_dir(&self.root, place).await?;
        Ok(runtime_id(network, &dir))
    }

    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError> {
        let (network, dir) = parse_id(runtime)?;
        let Some(program) = spec.argv.first().cloned() else {
            return Err(RuntimeError::spawn(ChildError::EmptyCommand));
        };
        let mut args = args::sandbox(&dir, network);
        args.extend(spec.argv.into_iter().map(OsString::from));
        let mut env = agent_env::build(CREW_DIR, &spec.env);
        let (result, var) = ResultFile::in_crew_dir(&dir, CREW_DIR);
        env.push(var);
        child::spawn(Launch {
            name: program,
            program: self.bwrap.clone(),
            args,
            cwd: dir,
            env,
            stdin: spec.stdin,
            // bwrap, then its pid-1 reaper, then the agent.
            polite: Polite::Below { skip: 1 },
            result: Some(result),
        })
    }

    fn describe(&self) -> String {
        format!(
            "sandbox, bubblewrap {} (working directories under {})",
            self.bwrap.display(),
            self.root.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_ids_carry_the_network() {
        for network in [true, false] {
            let id = runtime_id(network, Path::new("/srv/w/c:d"));
            let (n, dir) = parse_id(&id).unwrap();
            assert_eq!((n, dir), (network, PathBuf::from("/srv/w/c:d")));
        }
        assert!(parse_id(&RuntimeId("/srv/w/c".into())).is_err());
    }
}
