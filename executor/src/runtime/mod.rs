//! Container runtime adapters.
//!
//! - [`process`]: local child processes, one working directory per crew, no isolation.
//! - [`program`]: resolving a bare program name on the child's PATH (keeps spawning cheap).
//! - [`docker`]: a container per crew on the Docker Engine (docs/runtimes.md).
//! - [`sandbox`]: the same under bubblewrap: namespaces, a read-only system, no network.
//! - [`keeper`]: the Keeper service over HTTP (docs/keeper.md).
//! - [`agent_env`]: the agent's environment, built from nothing, for every runtime.
//! - `child`, `guard`, `descendants`: a local agent process, the watcher that kills its group
//!   when the runner dies, and finding the processes below a sandbox's own.
//! - [`cwd`]: a working directory below a crew directory, symbolic links included.
//! - [`program`]: resolving a bare program name on the child's PATH (keeps spawning cheap).
//!
//! Which runtime isolates what: docs/runtimes.md.

pub mod agent_env;
mod child;
pub mod cwd;
mod descendants;
pub mod docker;
mod guard;
pub mod keeper;
pub mod lines;
pub mod process;
pub mod program;
pub(crate) mod result_file;
pub mod sandbox;

pub use docker::DockerRuntime;
pub use keeper::KeeperRuntime;
pub use process::ProcessRuntime;
pub use sandbox::SandboxRuntime;

use std::path::PathBuf;
use std::sync::Arc;

use crewship_core::runtime::{ContainerRuntime, RuntimeError};
use crewship_core::secret::Secret;

/// Which container runtime the executor uses; chosen once, from configuration.
#[derive(Debug, Clone)]
pub enum RuntimeBackend {
    /// Local child processes, crews' working directories under `work_dir`.
    Process { work_dir: PathBuf },
    /// Local child processes under bubblewrap (docs/runtimes.md).
    Sandbox { work_dir: PathBuf },
    /// A container per crew on the Docker Engine.
    Docker(crewship_settings::DockerOptions),
    /// The Keeper service at `url`, authenticated with `token`; its certificate verified
    /// against `ca_file` when set, else the system's roots.
    Keeper {
        url: String,
        token: Secret,
        ca_file: Option<PathBuf>,
    },
}

impl From<crewship_settings::Runtime> for RuntimeBackend {
    fn from(runtime: crewship_settings::Runtime) -> Self {
        match runtime {
            crewship_settings::Runtime::Process { work_dir } => Self::Process { work_dir },
            crewship_settings::Runtime::Docker(options) => Self::Docker(options),
            crewship_settings::Runtime::Sandbox { work_dir } => Self::Sandbox { work_dir },
            crewship_settings::Runtime::Keeper {
                url,
                token,
                ca_file,
            } => Self::Keeper {
                url,
                token,
                ca_file,
            },
        }
    }
}

impl RuntimeBackend {
    /// Builds the runtime. The only place that knows all the adapters.
    pub fn build(&self) -> Result<Arc<dyn ContainerRuntime>, RuntimeError> {
        Ok(match self {
            Self::Process { work_dir } => Arc::new(ProcessRuntime::new(work_dir)),
            Self::Docker(options) => Arc::new(DockerRuntime::new(options.clone())?),
            Self::Sandbox { work_dir } => Arc::new(SandboxRuntime::new(work_dir)?),
            Self::Keeper {
                url,
                token,
                ca_file: None,
            } => Arc::new(KeeperRuntime::new(url, token.clone())?),
            Self::Keeper {
                url,
                token,
                ca_file: Some(ca),
            } => Arc::new(KeeperRuntime::with_ca_file(url, token.clone(), ca)?),
        })
    }
}
