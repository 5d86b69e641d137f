//! What the runtime does with the containers it labelled, at start and when they idle: stopping
//! a container ends every exec in it, which is how agents of an executor that died (and whose
//! runs were finished `executor lost`) are stopped, and how idle crews give back their memory.
//! A stopped container is started again by the next `ensure`.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, StopContainerOptions};

use super::activity::Activity;
use super::client::{call, is_not_found};
use super::container::{LABEL_INSTANCE, LABEL_MANAGED};
use super::error::DockerError;

/// Seconds the engine waits between SIGTERM and SIGKILL when it stops a container.
const STOP_GRACE_SECS: i32 = 2;

/// Stops every running container labelled by this runtime's instance (`prefix`); their names.
pub async fn stop_stale(docker: &Docker, prefix: &str) -> Result<Vec<String>, DockerError> {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_INSTANCE}={prefix}"),
        ],
    )]);
    let options = ListContainersOptions {
        all: false,
        filters: Some(filters),
        ..Default::default()
    };
    let running = call("list containers", docker.list_containers(Some(options))).await?;
    let mut stopped = Vec::new();
    for c in running {
        let Some(name) = c.names.and_then(|n| n.into_iter().next()) else {
            continue;
        };
        let name = name.trim_start_matches('/').to_owned();
        stop(docker, &name).await?;
        stopped.push(name);
    }
    Ok(stopped)
}

/// Stops `name`; one already gone is not an error.
pub async fn stop(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = StopContainerOptions {
        t: Some(STOP_GRACE_SECS),
        signal: None,
    };
    // The engine waits up to the grace period inside the call.
    match call("stop container", docker.stop_container(name, Some(options))).await {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Every `idle / 4` (at most a minute), stops the containers idle for `idle`; ends when the
/// runtime is dropped.
pub async fn reap_idle(docker: Docker, activity: Weak<Activity>, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::time::sleep(tick).await;
        let Some(activity) = activity.upgrade() else {
            return;
        };
        for name in activity.take_idle(idle) {
            match stop(&docker, &name).await {
                Ok(()) => tracing::info!(container = %name, "idle crew container stopped"),
                Err(e) => {
                    tracing::warn!(container = %name, error = %e, "idle crew container could not be stopped")
                }
            }
        }
    }
}
