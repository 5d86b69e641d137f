//! A throw-away certificate authority and a server certificate for 127.0.0.1, made with the
//! `openssl` command line (which `.ci/run` installs), for the tests of Keeper over HTTPS.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub struct TestPki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` (P-256) into `dir`.
pub fn make(dir: &Path) -> anyhow::Result<TestPki> {
    let path = |name: &str| dir.join(name);
    std::fs::write(
        path("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-days", "2", "-subj", "/CN=crewship test CA"],
        ],
    )?;
    openssl(
        dir,
        &[
            &["req"],
            &ec[..],
            &["-keyout", "key.pem", "-out", "leaf.csr"],
            &["-subj", "/CN=127.0.0.1"],
        ],
    )?;
    openssl(
        dir,
        &[
            &[
                "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            ],
            &[
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
        ],
    )?;
    Ok(TestPki {
        ca: path("ca.pem"),
        cert: path("cert.pem"),
        key: path("key.pem"),
    })
}

fn openssl(dir: &Path, parts: &[&[&str]]) -> anyhow::Result<()> {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(parts.concat())
        .output()
        .context("running openssl (install the openssl package)")?;
    if !output.status.success() {
        bail!(
            "openssl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
