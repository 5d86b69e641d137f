//! Pinned Python tools the tests install themselves: one virtual environment per tool at the
//! repository root (`.venv-moto`, `.venv-cargo-lambda`; ignored by git), created on first use
//! under a file lock so that test binaries running at once install it once. An install marker
//! names the version, so a changed pin installs again. A missing `python3` or a failed `pip`
//! fails the test, loudly: a tool the tests need is never a reason to skip them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use fs4::fs_std::FileExt;

/// The workspace root, where the virtual environments live.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// One pinned package (`package` with optional `extras`, e.g. `[server]`) in the virtual
/// environment `venv` at the repository root.
pub struct Pinned<'a> {
    pub venv: &'a str,
    pub package: &'a str,
    pub extras: &'a str,
    pub version: &'a str,
}

impl Pinned<'_> {
    /// The `bin/` folder of the environment, the package installed in it if it was not.
    pub fn install(&self) -> PathBuf {
        let root = repo_root();
        let venv = root.join(self.venv);
        let bin = venv.join("bin");
        let marker = venv.join(format!("installed-{}-{}", self.package, self.version));
        if marker.exists() {
            return bin;
        }
        let lock_path = root.join(format!("{}.lock", self.venv));
        let lock = File::create(&lock_path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", lock_path.display()));
        lock.lock_exclusive().expect("locking the install");
        if !marker.exists() {
            self.create(&venv, &marker);
        }
        FileExt::unlock(&lock).expect("unlocking the install");
        bin
    }

    fn create(&self, venv: &Path, marker: &Path) {
        let requirement = format!("{}{}=={}", self.package, self.extras, self.version);
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "python3 (with the venv module) is required: the tests install \
                     {requirement} into {}: {e}",
                    self.venv
                )
            });
        assert!(status.success(), "python3 -m venv {} failed", self.venv);
        let status = Command::new(venv.join("bin").join("pip"))
            .args(["install", "-q", &requirement])
            .status()
            .expect("running pip");
        assert!(
            status.success(),
            "pip install {requirement} into {} failed (PyPI unreachable?)",
            self.venv
        );
        File::create(marker).expect("writing the install marker");
    }
}
