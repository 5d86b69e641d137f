//! Why no agent outlives its runner: a crew's container runs `cat` on a stdin that only this
//! runtime holds open (an attach with `StdinOnce`). When the runner (or the Keeper serving it)
//! dies, even by SIGKILL, the kernel closes that connection, the engine closes the container's
//! stdin, `cat` exits and the container stops with every exec in it. A stopped container is
//! started and attached again by the next `ensure`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bollard::Docker;
use bollard::query_parameters::AttachContainerOptions;
use futures_util::StreamExt;

use super::client::call;
use super::error::DockerError;

/// The containers this runtime holds a lifeline to.
#[derive(Debug, Clone, Default)]
pub struct Lifelines(Arc<Mutex<HashSet<String>>>);

impl Lifelines {
    /// Attaches to `container`'s stdin unless this runtime already holds it; the connection is
    /// kept by a task until the container stops.
    pub async fn hold(&self, docker: &Docker, container: &str) -> Result<(), DockerError> {
        if !self.claim(container) {
            return Ok(());
        }
        let options = AttachContainerOptions {
            stream: true,
            stdin: true,
            // One stream must be asked for or the engine refuses the attach; the main process
            // writes nothing.
            stdout: true,
            ..Default::default()
        };
        let attached = match call(
            "attach container",
            docker.attach_container(container, Some(options)),
        )
        .await
        {
            Ok(attached) => attached,
            Err(e) => {
                self.release(container);
                return Err(e);
            }
        };
        let (lifelines, name) = (self.clone(), container.to_owned());
        tokio::spawn(async move {
            // Held, never written and never shut down: its closing is the signal.
            let _input = attached.input;
            let mut output = attached.output;
            while let Some(Ok(_)) = output.next().await {}
            lifelines.release(&name);
        });
        Ok(())
    }

    /// Marks `container` held; `false` when it already was.
    fn claim(&self, container: &str) -> bool {
        self.0
            .lock()
            .expect("lifelines lock")
            .insert(container.to_owned())
    }

    fn release(&self, container: &str) {
        self.0.lock().expect("lifelines lock").remove(container);
    }
}
