//! The `docker` runtime (docs/runtimes.md): one long-lived container per workspace, crew and
//! confinement on the Docker Engine (or Podman) API over its unix socket; agents are execs in it.
//!
//! - [`client`]: the connection, call deadlines, API version negotiation.
//! - [`container`]: the container's confinement, create-or-reuse, labels.
//! - [`exec`]: an agent process: environment, stdin, output lines, exit code.
//! - [`kill`]: signalling an exec's process group inside the container.
//! - [`lifeline`]: the container stops when the runtime's process dies.
//! - [`activity`] and [`reconcile`]: which containers are idle; stopping stale and idle ones.

mod activity;
mod client;
mod container;
mod error;
mod exec;
mod kill;
mod lifeline;
mod reconcile;

pub use container::{LABEL_CREW, LABEL_INSTANCE, LABEL_MANAGED, LABEL_WORKSPACE, WORK_MOUNT};
pub use error::DockerError;

use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;
use crewship_core::runtime::{
    ContainerRuntime, ExecSpec, Execution, Placement, RESULT_FILE_VAR, RuntimeError, RuntimeId,
};
use crewship_core::secret::Secret;
use crewship_settings::DockerOptions;
use tokio::sync::OnceCell;

use activity::Activity;
use container::ContainerSpec;
use lifeline::Lifelines;

use super::result_file::ResultFile;

pub struct DockerRuntime {
    docker: Docker,
    host: String,
    options: DockerOptions,
    activity: Arc<Activity>,
    lifelines: Lifelines,
    /// Version negotiation and the start-up reconciliation, done once before the first call.
    ready: Arc<OnceCell<()>>,
    /// Each ensured container's crew directory on this host, where its agents' result files
    /// appear (`result_file.rs`).
    dirs: std::sync::Mutex<std::collections::HashMap<String, std::path::PathBuf>>,
}

impl DockerRuntime {
    /// A runtime on the configured engine. Nothing is sent yet; within a tokio runtime the
    /// reconciliation starts at once in the background, so stale agents stop without waiting for
    /// the first run.
    pub fn new(options: DockerOptions) -> Result<Self, RuntimeError> {
        let host = client::host(options.host.as_deref());
        let docker = client::connect(&host).map_err(RuntimeError::unavailable)?;
        let runtime = Self {
            docker,
            host,
            options,
            activity: Arc::new(Activity::default()),
            lifelines: Lifelines::default(),
            ready: Arc::new(OnceCell::new()),
            dirs: Default::default(),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let ready = runtime.ready_task();
            tokio::spawn(async move {
                if let Err(e) = ready.await {
                    tracing::warn!(error = %e, "docker runtime not ready yet; retried on the first run");
                }
            });
        }
        Ok(runtime)
    }

    async fn ready(&self) -> Result<(), RuntimeError> {
        self.ready_task().await
    }

    /// Negotiates the API version, stops this instance's stale containers and starts the idle
    /// reaper; an engine that is down fails the call and is tried again by the next one.
    fn ready_task(&self) -> impl std::future::Future<Output = Result<(), RuntimeError>> + use<> {
        let (docker, ready, activity) = (
            self.docker.clone(),
            self.ready.clone(),
            Arc::downgrade(&self.activity),
        );
        let (prefix, idle) = (self.options.name_prefix.clone(), self.options.idle_stop);
        async move {
            ready
                .get_or_try_init(|| async {
                    // The version is shared by every clone of the client.
                    let _ = client::call("negotiate API version", docker.clone().negotiate_version())
                        .await?;
                    let stopped = reconcile::stop_stale(&docker, &prefix).await?;
                    if !stopped.is_empty() {
                        tracing::info!(containers = ?stopped, "stopped crew containers left running by a previous executor");
                    }
                    if let Some(idle) = idle {
                        tokio::spawn(reconcile::reap_idle(docker.clone(), activity, idle));
                    }
                    Ok::<(), DockerError>(())
                })
                .await
                .map(|_| ())
                .map_err(RuntimeError::unavailable)
        }
    }
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn ensure(&self, place: &Placement) -> Result<RuntimeId, RuntimeError> {
        self.ready().await?;
        let spec = ContainerSpec::for_place(&self.options, place)
            .map_err(|e| RuntimeError::ensure(&place.crew, e))?;
        container::ensure(&self.docker, &spec)
            .await
            .map_err(|e| RuntimeError::ensure(&place.crew, e))?;
        self.lifelines
            .hold(&self.docker, &spec.name)
            .await
            .map_err(|e| RuntimeError::ensure(&place.crew, e))?;
        self.activity.touch(&spec.name);
        self.dirs
            .lock()
            .expect("not poisoned")
            .insert(spec.name.clone(), spec.host_dir.clone());
        Ok(RuntimeId(spec.name))
    }

    async fn exec(
        &self,
        runtime: &RuntimeId,
        spec: ExecSpec,
    ) -> Result<Box<dyn Execution>, RuntimeError> {
        self.ready().await?;
        let name = &runtime.0;
        let mut spec = spec;
        let dir = self.dirs.lock().expect("not poisoned").get(name).cloned();
        let result = dir.map(|dir| {
            let (file, path) = ResultFile::named(&dir, WORK_MOUNT);
            spec.env
                .push((RESULT_FILE_VAR.to_owned(), Secret::new(path)));
            file
        });
        let in_use = self.activity.in_use(name);
        let execution = match exec::start(&self.docker, name, spec.clone(), in_use).await {
            // Stopped between ensure and exec (the idle reaper, an operator): started again.
            Err(e) if client::is_conflict(&e) => {
                container::start(&self.docker, name)
                    .await
                    .map_err(RuntimeError::spawn)?;
                self.lifelines
                    .hold(&self.docker, name)
                    .await
                    .map_err(RuntimeError::spawn)?;
                let in_use = self.activity.in_use(name);
                exec::start(&self.docker, name, spec, in_use).await
            }
            other => other,
        }
        .map_err(RuntimeError::spawn)?;
        Ok(Box::new(execution.with_result(result)))
    }

    fn describe(&self) -> String {
        format!(
            "docker ({}, a container per crew, crew directories under {})",
            self.host,
            self.options.work_dir.display()
        )
    }
}
