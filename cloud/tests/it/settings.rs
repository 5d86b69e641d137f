//! Each cloud bin, run for real, stops at start on a mistyped runtime or backend name, naming
//! the key and the variable it came from; and its `--help` lists its settings.

use std::process::{Command, Stdio};

fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("running the bin");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SERVER: &str = env!("CARGO_BIN_EXE_crewship-server");
const EXECUTOR: &str = env!("CARGO_BIN_EXE_crewship-executor");
const PROVISION: &str = env!("CARGO_BIN_EXE_crewship-provision");

/// A binary, the environment it starts with, and the key and variable its error must name.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn a_mistyped_name_stops_every_cloud_bin_naming_the_key() {
    let cases: &[Case] = &[
        (
            SERVER,
            &[
                ("CREWSHIP_INTERNAL_TOKEN", "it"),
                ("CREWSHIP_STORE", "dynamo"),
            ],
            "store.backend",
            "CREWSHIP_STORE",
        ),
        (
            SERVER,
            &[
                ("CREWSHIP_INTERNAL_TOKEN", "it"),
                ("CREWSHIP_QUEUE", "kafka"),
            ],
            "queue.backend",
            "CREWSHIP_QUEUE",
        ),
        (
            EXECUTOR,
            &[("CREWSHIP_RUNTIME", "dockr")],
            "executor.runtime",
            "CREWSHIP_RUNTIME",
        ),
        (
            EXECUTOR,
            &[("CREWSHIP_STORE", "dynamo")],
            "store.backend",
            "CREWSHIP_STORE",
        ),
        (
            PROVISION,
            &[("CREWSHIP_STORE", "dynamo")],
            "store.backend",
            "CREWSHIP_STORE",
        ),
        (SERVER, &[], "server.internal_token", ""),
    ];
    for (bin, env, key, origin) in cases {
        let (ok, _, stderr) = run(bin, &[], env);
        assert!(!ok, "{bin} started with {env:?}");
        assert!(
            stderr.contains(&format!("configuration key `{key}`")),
            "{bin}: {stderr}"
        );
        assert!(stderr.contains(origin), "{bin}: {stderr}");
    }
    // A flag names itself.
    let (ok, _, stderr) = run(EXECUTOR, &["--runtime", "dockr"], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("`executor.runtime` (from --runtime)"),
        "{stderr}"
    );
}

#[test]
fn every_cloud_bin_lists_its_settings_in_help() {
    use crewship_settings::Bin;
    for (bin, which) in [
        (SERVER, Bin::Server),
        (EXECUTOR, Bin::Executor),
        (PROVISION, Bin::Provision),
    ] {
        let (ok, help, _) = run(bin, &["--help"], &[]);
        assert!(ok, "{bin} --help");
        let keys = crewship_settings::keys::KEYS
            .iter()
            .filter(|k| k.applies_to(which));
        for flag in keys.filter_map(|k| k.flag()).chain(["config".into()]) {
            assert!(
                help.contains(&format!("--{flag} ")),
                "{bin} --help lacks --{flag}:\n{help}"
            );
        }
        assert!(
            help.contains("CREWSHIP_STORE"),
            "{bin}: variables are shown"
        );
    }
}
