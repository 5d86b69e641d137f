//! The real `local-runner` binary refuses settings that cannot work, naming the key and where
//! the value came from, and its `--help` reaches every setting it reads.

use std::process::{Command, Stdio};

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_local-runner"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("running local-runner");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_mistyped_runtime_stops_the_start_naming_the_key() {
    // Port 0: were the runtime accepted, the runner would start (and this test would hang on
    // it rather than pass).
    let base = ["--listen", "127.0.0.1:0"];
    for (args, env, needle) in [
        (
            &[][..],
            &[("CREWSHIP_RUNTIME", "dockr")][..],
            "`executor.runtime` (from CREWSHIP_RUNTIME)",
        ),
        (
            &["--runtime", "dockr"][..],
            &[][..],
            "`executor.runtime` (from --runtime)",
        ),
        (
            &["--log-format", "xml"][..],
            &[][..],
            "`log.format` (from --log-format)",
        ),
        (
            &[][..],
            &[("CREWSHIP_RUN_TIMEOUT_SECS", "ten")][..],
            "`executor.run_timeout_secs` (from CREWSHIP_RUN_TIMEOUT_SECS)",
        ),
    ] {
        let all: Vec<&str> = base.iter().chain(args).copied().collect();
        let (ok, _, stderr) = run(&all, env);
        assert!(!ok, "started with {args:?} {env:?}");
        assert!(stderr.contains(needle), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains("dockr") || stderr.contains("xml") || stderr.contains("ten"),
            "{stderr}"
        );
    }
}

#[test]
fn a_file_key_that_does_not_exist_or_does_not_apply_stops_the_start() {
    let dir = std::env::temp_dir().join(format!("local-runner-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, needle) in [
        ("[executor]\nruntime = \"dockr\"\n", "`executor.runtime`"),
        ("[server]\nlisen = \"127.0.0.1:0\"\n", "`server.lisen`"),
        (
            "[store]\ntable_prefix = \"x\"\n",
            "does not apply to local-runner",
        ),
        (
            "[store]\nbackend = \"dynamodb\"\n",
            "dynamodb is for the cloud binaries",
        ),
    ] {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let (ok, _, stderr) = run(
            &[
                "--config",
                path.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
            &[],
        );
        assert!(!ok, "started with {text}");
        assert!(stderr.contains(needle), "{text}: {stderr}");
        assert!(
            stderr.contains(path.to_str().unwrap()),
            "names the file: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_lists_every_setting_local_runner_reads() {
    let (ok, help, _) = run(&["--help"], &[]);
    assert!(ok);
    let keys = crewship_settings::keys::KEYS.iter();
    let flags = keys.filter(|k| k.applies_to(crewship_settings::Bin::LocalRunner));
    for flag in flags.filter_map(|k| k.flag()).chain(["config".into()]) {
        assert!(
            help.contains(&format!("--{flag} ")),
            "--help lacks --{flag}:\n{help}"
        );
    }
    assert!(
        help.contains("CREWSHIP_RUNTIME"),
        "variables are shown: {help}"
    );
    // The cloud tables are not local-runner's; its stores are memory and a SQLite file.
    assert!(!help.contains("--table-prefix"), "{help}");
    assert!(
        help.contains("--data ") && help.contains("CREWSHIP_DATA"),
        "{help}"
    );
}
