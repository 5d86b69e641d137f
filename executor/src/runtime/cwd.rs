//! A working directory below a local runtime's crew directory, for Keeper's `cwd` field: it
//! may not leave the crew directory, through `..` or through a symbolic link the agent made
//! (`ln -s / escape`, then `cwd = "escape"`). The path is resolved with `canonicalize` and the
//! result must still be below the crew directory's own resolved path.
//!
//! What is left: an agent already running in the same crew could swap a checked directory for
//! a link between this check and the next agent's start. docs/keeper.md says so.

use std::path::{Component, Path, PathBuf};

use crewship_core::runtime::RuntimeId;

#[derive(Debug, thiserror::Error)]
pub enum CwdError {
    #[error("cwd must be a relative path that stays inside the runtime")]
    Escapes,
    #[error("cwd does not name a directory inside the runtime")]
    NotADirectory,
}

/// The runtime id of `id` (a process or sandbox runtime's) with `rel` as the working
/// directory. Such an id ends with the crew directory's host path: the whole id for the process
/// runtime, the part after `<network>:` for the sandbox runtime.
pub fn within(id: &RuntimeId, rel: &str) -> Result<RuntimeId, CwdError> {
    let rel = Path::new(rel);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(CwdError::Escapes);
    }
    let (prefix, dir) = match id.0.find('/') {
        Some(i) => id.0.split_at(i),
        None => return Err(CwdError::NotADirectory),
    };
    let root = Path::new(dir)
        .canonicalize()
        .map_err(|_| CwdError::NotADirectory)?;
    let target: PathBuf = root
        .join(rel)
        .canonicalize()
        .map_err(|_| CwdError::NotADirectory)?;
    if !target.starts_with(&root) {
        return Err(CwdError::Escapes);
    }
    if !target.is_dir() {
        return Err(CwdError::NotADirectory);
    }
    Ok(RuntimeId(format!("{prefix}{}", target.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_out_of_the_crew_dir_are_refused_links_inside_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let crew = dir.path().join("ws").join("crew");
        std::fs::create_dir_all(crew.join("sub")).unwrap();
        std::os::unix::fs::symlink("/", crew.join("escape")).unwrap();
        std::os::unix::fs::symlink("sub", crew.join("inside")).unwrap();
        let real = crew.canonicalize().unwrap();
        for prefix in ["", "none:"] {
            let id = RuntimeId(format!("{prefix}{}", crew.display()));
            assert!(matches!(within(&id, "escape"), Err(CwdError::Escapes)));
            assert!(matches!(within(&id, "escape/tmp"), Err(CwdError::Escapes)));
            assert!(matches!(within(&id, "../crew"), Err(CwdError::Escapes)));
            assert!(matches!(within(&id, "/etc"), Err(CwdError::Escapes)));
            assert!(matches!(
                within(&id, "missing"),
                Err(CwdError::NotADirectory)
            ));
            let expected = format!("{prefix}{}", real.join("sub").display());
            assert_eq!(within(&id, "inside").unwrap().0, expected);
            assert_eq!(within(&id, "sub").unwrap().0, expected);
        }
    }
}
