//! Container runtime adapters.
//!
//! - [`process`]: local child processes, one working directory per crew, no isolation.
//! - [`program`]: resolving a bare program name on the child's PATH (keeps spawning cheap).
//! - [`docker`]: a container per crew on the Docker Engine (docs/runtimes.md).
//! - [`keeper`]: the Keeper service over HTTP (docs/keeper.md).

pub mod docker;
pub mod keeper;
pub mod lines;
pub mod process;
pub mod program;

pub use docker::DockerRuntime;
pub use keeper::KeeperRuntime;
pub use process::ProcessRuntime;

use std::path::PathBuf;
use std::sync::Arc;

use crewship_core::runtime::{ContainerRuntime, RuntimeError};
use crewship_core::secret::Secret;

/// Which container runtime the executor uses; chosen once, from configuration.
#[derive(Debug, Clone)]
pub enum RuntimeBackend {
    /// Local child processes, crews' working directories under `work_dir`.
    Process { work_dir: PathBuf },
    /// A container per crew on the Docker Engine.
    Docker(crewship_settings::DockerOptions),
    /// The Keeper service at `url`, authenticated with `token`.
    Keeper { url: String, token: Secret },
}

impl From<crewship_settings::Runtime> for RuntimeBackend {
    fn from(runtime: crewship_settings::Runtime) -> Self {
        match runtime {
            crewship_settings::Runtime::Process { work_dir } => Self::Process { work_dir },
            crewship_settings::Runtime::Docker(options) => Self::Docker(options),
            crewship_settings::Runtime::Keeper { url, token } => Self::Keeper { url, token },
        }
    }
}

impl RuntimeBackend {
    /// Builds the runtime. The only place that knows all the adapters.
    pub fn build(&self) -> Result<Arc<dyn ContainerRuntime>, RuntimeError> {
        Ok(match self {
            Self::Process { work_dir } => Arc::new(ProcessRuntime::new(work_dir)),
            Self::Docker(options) => Arc::new(DockerRuntime::new(options.clone())?),
            Self::Keeper { url, token } => Arc::new(KeeperRuntime::new(url, token.clone())?),
        })
    }
}
