//! A crew's container: one per workspace, crew and confinement, created from the image with the
//! restrictions of docs/runtimes.md, or reused (started again when the idle reaper stopped it).
//! The name carries a hash of the confinement, so an agent whose isolation differs from its
//! crew-mates' gets its own container instead of recreating theirs under their running agents.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};
use crewship_core::isolation::Limits;
use crewship_core::runtime::Placement;
use crewship_settings::DockerOptions;
use sha2::{Digest, Sha256};

use super::client::{call, is_conflict, is_not_found};
use super::error::DockerError;

/// Where the crew directory is mounted, and the agents' working directory.
pub const WORK_MOUNT: &str = "/work";
pub const LABEL_MANAGED: &str = "crewship.managed";
pub const LABEL_INSTANCE: &str = "crewship.instance";
pub const LABEL_WORKSPACE: &str = "crewship.workspace";
pub const LABEL_CREW: &str = "crewship.crew";

/// The container's main process only keeps it alive, as long as its stdin is open (see
/// `lifeline`): agents are execs.
const KEEPALIVE: [&str; 1] = ["cat"];
/// A writable `/tmp` on the read-only root; its pages count against the memory limit.
const TMPFS_OPTIONS: &str = "rw,nosuid,nodev,size=64m";

/// Everything a crew's container is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    pub limits: Limits,
    pub host_dir: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub labels: HashMap<String, String>,
}

impl ContainerSpec {
    pub fn for_place(options: &DockerOptions, place: &Placement) -> Result<Self, DockerError> {
        let isolation = &place.isolation;
        let image = isolation
            .image
            .clone()
            .or_else(|| options.image.clone())
            .ok_or(DockerError::NoImage)?;
        // The ids' alphabet ([A-Za-z0-9_-]) cannot climb out of the work directory.
        let host_dir = options
            .work_dir
            .join(place.workspace.as_str())
            .join(place.crew.as_str());
        let mut spec = Self {
            name: String::new(),
            image,
            network: isolation.network.as_str().to_owned(),
            limits: isolation.limits(&options.limits),
            host_dir,
            uid: options.uid,
            gid: options.gid,
            labels: HashMap::from([
                (LABEL_MANAGED.to_owned(), "true".to_owned()),
                (LABEL_INSTANCE.to_owned(), options.name_prefix.clone()),
                (LABEL_WORKSPACE.to_owned(), place.workspace.to_string()),
                (LABEL_CREW.to_owned(), place.crew.to_string()),
            ]),
        };
        spec.name = format!("{}-{}-{}", options.name_prefix, place.key(), spec.digest());
        Ok(spec)
    }

    /// 12 hex digits over everything but the name: equal specs share a container.
    fn digest(&self) -> String {
        let l = &self.limits;
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}:{}",
            self.image,
            self.network,
            l.memory_mb,
            l.cpus.millis(),
            l.pids_limit,
            self.host_dir.display(),
            self.uid,
            self.gid
        );
        hex::encode(&Sha256::digest(text.as_bytes())[..6])
    }

    fn body(&self) -> ContainerCreateBody {
        let memory = i64::from(self.limits.memory_mb) * 1024 * 1024;
        ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(KEEPALIVE.iter().map(|s| (*s).to_owned()).collect()),
            user: Some(format!("{}:{}", self.uid, self.gid)),
            open_stdin: Some(true),
            stdin_once: Some(true),
            attach_stdin: Some(true),
            working_dir: Some(WORK_MOUNT.to_owned()),
            // Nothing of the executor's: execs bring their own environment. HOME is the crew
            // directory unless the agent's environment says otherwise (CLIs keep state there).
            env: Some(vec![format!("HOME={WORK_MOUNT}")]),
            labels: Some(self.labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some(self.network.clone()),
                memory: Some(memory),
                // Equal to memory: no swap on top of the limit.
                memory_swap: Some(memory),
                nano_cpus: Some(self.limits.cpus.nanos()),
                pids_limit: Some(i64::from(self.limits.pids_limit)),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                // The engine's tini as pid 1 reaps what agents leave behind.
                init: Some(true),
                ipc_mode: Some("private".to_owned()),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_owned(),
                    TMPFS_OPTIONS.to_owned(),
                )])),
                mounts: Some(vec![Mount {
                    typ: Some(MountType::BIND),
                    source: Some(self.host_dir.display().to_string()),
                    target: Some(WORK_MOUNT.to_owned()),
                    read_only: Some(false),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// Creates the container or reuses it, running. Safe to call concurrently for one spec: a
/// lost creation race (409) reuses the winner's container.
pub async fn ensure(docker: &Docker, spec: &ContainerSpec) -> Result<(), DockerError> {
    prepare_dir(spec).await?;
    for _ in 0..3 {
        match call(
            "inspect container",
            docker.inspect_container(&spec.name, None),
        )
        .await
        {
            Ok(info) => {
                if info.state.and_then(|s| s.running) == Some(true) {
                    return Ok(());
                }
                return start(docker, &spec.name).await;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        match call(
            "create container",
            docker.create_container(Some(options), spec.body()),
        )
        .await
        {
            Ok(_) => return start(docker, &spec.name).await,
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DockerError::NotRunning(spec.name.clone()))
}

pub async fn start(docker: &Docker, name: &str) -> Result<(), DockerError> {
    // 304 (already started, by a concurrent ensure) is a success for bollard.
    call(
        "start container",
        docker.start_container(name, None::<StartContainerOptions>),
    )
    .await
}

/// The crew directory, owned by the container's user so its agents can write there.
async fn prepare_dir(spec: &ContainerSpec) -> Result<(), DockerError> {
    let dir = spec.host_dir.clone();
    let (uid, gid) = (spec.uid, spec.gid);
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::MetadataExt;
        std::fs::create_dir_all(&dir).map_err(|source| DockerError::CreateDir {
            dir: dir.clone(),
            source,
        })?;
        let meta = std::fs::metadata(&dir).map_err(|source| DockerError::CreateDir {
            dir: dir.clone(),
            source,
        })?;
        if (meta.uid(), meta.gid()) != (uid, gid) {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|source| {
                DockerError::Chown {
                    dir,
                    uid,
                    gid,
                    source,
                }
            })?;
        }
        Ok(())
    })
    .await
    .expect("the directory task does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crewship_core::isolation::{Cpus, Isolation, Network};

    fn options() -> DockerOptions {
        DockerOptions {
            host: None,
            work_dir: "/srv/crews".into(),
            image: Some("agent:1".into()),
            uid: 65534,
            gid: 65534,
            idle_stop: None,
            limits: Limits::default(),
            name_prefix: "crewship".into(),
        }
    }

    fn place(isolation: Isolation) -> Placement {
        Placement {
            isolation,
            ..Placement::new("ws".parse().unwrap(), "ops".parse().unwrap())
        }
    }

    #[test]
    fn the_container_is_confined_as_documented() {
        let spec = ContainerSpec::for_place(&options(), &place(Isolation::default())).unwrap();
        assert!(spec.name.starts_with("crewship-ws.ops-"), "{}", spec.name);
        let body = spec.body();
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.memory, Some(1024 * 1024 * 1024));
        assert_eq!(host.memory_swap, host.memory);
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
        assert_eq!(host.pids_limit, Some(256));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts.len(), 1, "nothing else of the host");
        assert_eq!(mounts[0].source.as_deref(), Some("/srv/crews/ws/ops"));
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        assert_eq!(body.env, Some(vec!["HOME=/work".to_owned()]));
    }

    #[test]
    fn another_confinement_is_another_container_and_the_agents_image_wins() {
        let default = ContainerSpec::for_place(&options(), &place(Isolation::default())).unwrap();
        let wider = ContainerSpec::for_place(
            &options(),
            &place(Isolation {
                image: Some("other:2".into()),
                network: Network::Bridge,
                cpus: Some(Cpus::from_millis(500)),
                ..Default::default()
            }),
        )
        .unwrap();
        assert_ne!(default.name, wider.name);
        assert_eq!(wider.image, "other:2");
        assert_eq!(wider.network, "bridge");
        assert_eq!(wider.limits.cpus.nanos(), 500_000_000);
        let mut no_image = options();
        no_image.image = None;
        let e = ContainerSpec::for_place(&no_image, &place(Isolation::default())).unwrap_err();
        assert!(matches!(e, DockerError::NoImage));
    }
}
