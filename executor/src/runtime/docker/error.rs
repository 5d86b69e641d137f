//! Why the docker runtime could not do what it was asked; the runtime error's source.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker host {0} is not a unix socket (unix:///path)")]
    UnsupportedHost(String),
    #[error("connecting to the Docker Engine at {host}")]
    Connect {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("Docker Engine call {what}")]
    Engine {
        what: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("Docker Engine call {what} took longer than {secs} s")]
    Timeout { what: &'static str, secs: u64 },
    #[error(
        "no image: the agent sets no isolation.image and executor.docker_image is not configured"
    )]
    NoImage,
    #[error("creating {}", .dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "giving {} to the container user {uid}:{gid} (run as root, or set executor.docker_user \
         to the directory's owner)", .dir.display()
    )]
    Chown {
        dir: PathBuf,
        uid: u32,
        gid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("empty command")]
    EmptyCommand,
    #[error("the engine started the exec detached")]
    NotAttached,
    #[error("container {0} did not report running after start")]
    NotRunning(String),
}
