//! The Docker Engine for the docker runtime's tests: the test image, built offline (the CI
//! machine has an engine but no registry: `docker pull` fails), and uniquely named instances
//! whose containers are removed when the test ends, passed or not.
//!
//! The image is a root filesystem of Debian's `busybox-static` (`/bin/busybox` and a link per
//! applet), `docker import`ed once per test process and kept by tag across processes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test image's tag; bump the version when its contents change.
pub const TEST_IMAGE: &str = "crewship-test/busybox:2";
const BUSYBOX: &str = "/bin/busybox";

/// Whether the engine and the image are there. `CI=true`: a missing engine or busybox fails the
/// test; otherwise the test is skipped with the reason printed.
pub fn available() -> bool {
    static STATE: OnceLock<Result<(), String>> = OnceLock::new();
    match STATE.get_or_init(prepare) {
        Ok(()) => true,
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("docker tests need the Docker Engine and busybox-static under CI: {reason}")
        }
        Err(reason) => {
            eprintln!("skipping a docker test (set CI=true to fail instead): {reason}");
            false
        }
    }
}

fn prepare() -> Result<(), String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("the Docker Engine is unreachable: {e}"))?;
    if docker(&["image", "inspect", "--format", "{{.Id}}", TEST_IMAGE]).is_ok() {
        return Ok(());
    }
    build_image()
}

/// `docker import` of a busybox root filesystem, tagged [`TEST_IMAGE`].
fn build_image() -> Result<(), String> {
    if !Path::new(BUSYBOX).exists() {
        return Err(format!(
            "{BUSYBOX} is missing (apt-get install busybox-static)"
        ));
    }
    let root = tempfile_dir()?;
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
    std::fs::copy(BUSYBOX, bin.join("busybox")).map_err(|e| e.to_string())?;
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .map_err(|e| e.to_string())?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    for dir in ["tmp", "work", "proc", "dev", "sys", "etc"] {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| e.to_string())?;
    }
    // As in any image: the engine's tmpfs on /tmp takes the image directory's mode.
    std::fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .map_err(|e| e.to_string())?;
    let script = format!(
        "tar -C '{}' -c . | docker import -c 'ENV PATH=/bin' - {TEST_IMAGE}",
        root.display()
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&root);
    if status.success() {
        Ok(())
    } else {
        Err(format!("docker import failed: {status}"))
    }
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "crewship-busybox-root-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs the docker CLI; its stdout, trimmed, or why it failed.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("docker {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A name prefix (`executor.docker_name_prefix`) of this test's own: its containers are
/// removed, by label, when it is dropped.
#[derive(Debug)]
pub struct Instance {
    pub prefix: String,
}

impl Instance {
    pub fn new() -> Self {
        Self {
            prefix: format!(
                "crewtest{}x{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// The ids of this instance's containers, running or not.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=crewship.instance={}", self.prefix);
        docker(&["ps", "-aq", "--filter", &filter])
            .map(|out| out.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let ids = self.containers();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = docker(&args);
        }
    }
}
