//! The file an agent may leave its answer in (`CREWSHIP_RESULT_FILE`, the run's `result`): a
//! fresh name in the crew's directory per execution, so the local runtimes (process, sandbox,
//! docker) all reach it through the one directory they share with the agent.
//!
//! The agent controls that directory, so reading is careful: the last component is opened
//! without following a link, and only a regular file with a single link is read — a link to a
//! file the runner may read but the agent may not would otherwise leak it into the run.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crewship_core::runtime::RESULT_FILE_VAR;
use tokio::io::AsyncReadExt;

#[derive(Debug)]
pub(crate) struct ResultFile {
    host: PathBuf,
}

impl ResultFile {
    /// A new name in the crew's directory, which the runner sees at `host_dir` and the agent at
    /// `agent_dir`; and the variable that tells the agent ([`RESULT_FILE_VAR`] = its path).
    pub(crate) fn in_crew_dir(host_dir: &Path, agent_dir: &str) -> (Self, (OsString, OsString)) {
        let (file, path) = Self::named(host_dir, agent_dir);
        (file, (RESULT_FILE_VAR.into(), path.into()))
    }

    /// Like [`Self::in_crew_dir`], with the agent's path as a string.
    pub(crate) fn named(host_dir: &Path, agent_dir: &str) -> (Self, String) {
        let name = format!(".crewship-result-{}", uuid::Uuid::now_v7().simple());
        let agent_path = format!("{}/{name}", agent_dir.trim_end_matches('/'));
        let file = Self {
            host: host_dir.join(&name),
        };
        (file, agent_path)
    }

    /// The file's first `limit` bytes, `None` if the agent wrote none; removes it either way.
    pub(crate) async fn take(self, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
        let read = self.read(limit).await;
        match tokio::fs::remove_file(&self.host).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(error = %e, "the agent's result file could not be removed");
            }
            _ => {}
        }
        read
    }

    async fn read(&self, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
        let opened = tokio::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&self.host)
            .await;
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() || meta.nlink() != 1 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the result file is not a plain file of the agent's own",
            ));
        }
        let mut bytes = Vec::with_capacity(limit.min(usize::try_from(meta.len()).unwrap_or(limit)));
        file.take(limit as u64).read_to_end(&mut bytes).await?;
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_the_agent_wrote_is_read_once_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let (file, (var, path)) = ResultFile::in_crew_dir(dir.path(), "/work");
        assert_eq!(var, RESULT_FILE_VAR);
        let path = path.into_string().unwrap();
        assert!(path.starts_with("/work/.crewship-result-"), "{path}");
        let name = path.rsplit('/').next().unwrap();
        std::fs::write(dir.path().join(name), "the answer, and more").unwrap();
        assert_eq!(file.take(10).await.unwrap().unwrap(), b"the answer");
        assert!(!dir.path().join(name).exists(), "removed after reading");
    }

    #[tokio::test]
    async fn no_file_is_no_result() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = ResultFile::in_crew_dir(dir.path(), "/work");
        assert_eq!(file.take(10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn links_to_other_files_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("runner-only");
        std::fs::write(&secret, "secret").unwrap();
        for hard in [false, true] {
            let (file, (_, path)) =
                ResultFile::in_crew_dir(dir.path(), dir.path().to_str().unwrap());
            let path = PathBuf::from(path);
            if hard {
                std::fs::hard_link(&secret, &path).unwrap();
            } else {
                std::os::unix::fs::symlink(&secret, &path).unwrap();
            }
            assert!(file.take(100).await.is_err(), "hard link: {hard}");
            assert!(!path.exists(), "the link is removed");
        }
        assert_eq!(
            std::fs::read(&secret).unwrap(),
            b"secret",
            "the target is untouched"
        );
    }
}
