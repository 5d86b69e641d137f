use super::keys::{Bin, KEYS, Kind};
use super::load::{File, Override};
use super::*;

fn env(bin: Bin, vars: &[(&str, &str)]) -> Vec<Override> {
    env_overrides(bin, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

fn file(bin: Bin, text: &str) -> Result<Settings, SettingsError> {
    load(
        bin,
        File::Embedded {
            name: "test.toml",
            text,
        },
        &[],
    )
}

/// What each binary needs besides the defaults to start.
fn required(bin: Bin) -> Vec<(&'static str, &'static str)> {
    match bin {
        Bin::Server => vec![("CREWSHIP_INTERNAL_TOKEN", "it")],
        Bin::WsLambda => vec![
            ("CREWSHIP_CONNECTIONS_TABLE", "conns"),
            ("CREWSHIP_WS_ENDPOINT", "https://ws.example/live"),
        ],
        Bin::CallbackLambda => vec![("CREWSHIP_CALLBACKS_QUEUE_URL", "https://sqs.example/1/c")],
        _ => vec![],
    }
}

#[test]
fn every_binary_starts_on_the_defaults() {
    for bin in Bin::ALL {
        let s = load(bin, File::None, &env(bin, &required(bin))).unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.executor.run_timeout_secs, 600);
        assert_eq!(s.store.table_prefix, "crewship");
    }
}

#[test]
fn a_mistyped_runtime_or_backend_stops_every_binary_naming_the_key() {
    let cases = [
        ("CREWSHIP_RUNTIME", "dockr", "executor.runtime"),
        ("CREWSHIP_STORE", "dynamo", "store.backend"),
        ("CREWSHIP_QUEUE", "kafka", "queue.backend"),
        ("CREWSHIP_LOG_FORMAT", "xml", "log.format"),
    ];
    for bin in Bin::ALL {
        let mut named = 0;
        for (var, value, key) in cases {
            let k = keys::find(key).unwrap();
            let mut vars = required(bin);
            vars.push((var, value));
            let result = load(bin, File::None, &env(bin, &vars));
            if !k.applies_to(bin) {
                // Another binary's variable in a shared environment is not this one's business.
                assert!(result.is_ok(), "{}: {var} does not apply", bin.name());
                continue;
            }
            let e = result.unwrap_err();
            assert_eq!(e.key, key, "{}: {e}", bin.name());
            assert_eq!(e.origin.as_deref(), Some(var), "{}: {e}", bin.name());
            assert!(e.to_string().contains(value), "{e}");
            named += 1;
        }
        assert!(named >= 2, "{} reads a runtime or a backend", bin.name());
    }
}

#[test]
fn file_values_are_checked_key_by_key() {
    let cases = [
        ("[server]\nlisen = \"x\"", "server.lisen", "unknown key"),
        ("[serve]\nlisten = \"x\"", "serve", "unknown key"),
        (
            "[executor]\nruntime = \"dockr\"",
            "executor.runtime",
            "dockr",
        ),
        (
            "[executor]\nrun_timeout_secs = \"ten\"",
            "executor.run_timeout_secs",
            "whole number",
        ),
        (
            "[executor]\nrun_timeout_secs = 0",
            "executor.run_timeout_secs",
            "at least 1",
        ),
        ("[server]\nlisten = \"nowhere\"", "server.listen", "address"),
        (
            "[server]\nlegacy_secret_sunset = \"soon\"",
            "server.legacy_secret_sunset",
            "",
        ),
        (
            "[store]\ntable_prefix = \"x\"",
            "store.table_prefix",
            "does not apply to local-runner",
        ),
        (
            "[store]\nbackend = \"dynamodb\"",
            "store.backend",
            "dynamodb is for the cloud binaries",
        ),
        ("[store]\nbackend = \"sqlite\"", "store.path", "required"),
        (
            "[executor]\nruntime = \"keeper\"",
            "executor.keeper_url",
            "required",
        ),
        (
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"ftp://k\"\nkeeper_token = \"t\"",
            "executor.keeper_url",
            "http",
        ),
        (
            "[executor]\nruntime = \"docker\"\ndocker_host = \"tcp://10.0.0.1:2375\"",
            "executor.docker_host",
            "unix socket",
        ),
        (
            "[executor]\nruntime = \"docker\"\ndocker_user = \"nobody\"",
            "executor.docker_user",
            "uid:gid",
        ),
        (
            "[executor]\nruntime = \"docker\"\ndocker_memory_mb = 1",
            "executor.docker_memory_mb",
            "MiB",
        ),
        (
            "[executor]\nruntime = \"docker\"\ndocker_name_prefix = \"-x\"",
            "executor.docker_name_prefix",
            "",
        ),
        (
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"http://keeper.internal:7070\"\nkeeper_token = \"t\"",
            "executor.keeper_url",
            "in clear",
        ),
        (
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"http://127.0.0.1@evil.example\"\nkeeper_token = \"t\"",
            "executor.keeper_url",
            "in clear",
        ),
        ("tokens = 3", "tokens", "array"),
        (
            "[[tokens]]\ntoken = \"t\"\nworkspace_id = \"bad ws\"",
            "tokens[0].workspace_id",
            "",
        ),
        (
            "[[agents]]\ncrew_id = \"c\"\nworkspace_id = \"w\"\ncommand = [\"true\"]",
            "agents[0].id",
            "missing",
        ),
        (
            "[[agents]]\nid = \"a\"\ncrew_id = \"c\"\nworkspace_id = \"w\"\ncolor = 1",
            "agents[0].color",
            "unknown field",
        ),
        ("[server\n", "config", "TOML"),
    ];
    for (text, key, needle) in cases {
        let e = file(Bin::LocalRunner, text).unwrap_err();
        assert_eq!(e.key, key, "{text}: {e}");
        // A key that is required but missing has no origin; every other names the file.
        let missing = e.message.contains("required");
        assert_eq!(e.origin.is_none(), missing, "{text}: {e}");
        if !missing {
            assert_eq!(e.origin.as_deref(), Some("test.toml"), "{text}: {e}");
        }
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn environment_beats_the_file_and_flags_beat_the_environment() {
    let text = "[executor]\nrun_timeout_secs = 100\nmax_concurrent_runs = 2";
    let mut overrides = env(Bin::LocalRunner, &[("CREWSHIP_RUN_TIMEOUT_SECS", "50")]);
    let s = load(
        Bin::LocalRunner,
        File::Embedded { name: "f", text },
        &overrides,
    )
    .unwrap();
    assert_eq!(s.executor.run_timeout_secs, 50);
    assert_eq!(s.executor.max_concurrent_runs, 2);
    overrides.push(Override {
        key: keys::find("executor.run_timeout_secs").unwrap(),
        value: "40".into(),
        origin: "--run-timeout-secs".into(),
    });
    let s = load(
        Bin::LocalRunner,
        File::Embedded { name: "f", text },
        &overrides,
    )
    .unwrap();
    assert_eq!(s.executor.run_timeout_secs, 40);
    let e = load(
        Bin::LocalRunner,
        File::None,
        &env(Bin::LocalRunner, &[("CREWSHIP_KILL_GRACE_SECS", "-1")]),
    )
    .unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.origin.as_deref()),
        ("executor.kill_grace_secs", Some("CREWSHIP_KILL_GRACE_SECS"))
    );
}

#[test]
fn cloud_settings_need_what_their_backend_needs() {
    let dynamo = [("CREWSHIP_STORE", "dynamodb")];
    let e = load(Bin::Executor, File::None, &env(Bin::Executor, &dynamo)).unwrap_err();
    assert_eq!(e.key, "store.payload_bucket");
    let with_bucket = [
        ("CREWSHIP_STORE", "dynamodb"),
        ("CREWSHIP_PAYLOAD_BUCKET", "b"),
    ];
    let e = load(Bin::Executor, File::None, &env(Bin::Executor, &with_bucket)).unwrap_err();
    assert_eq!(e.key, "store.secrets_key");
    let e = load(
        Bin::Executor,
        File::None,
        &env(Bin::Executor, &[("CREWSHIP_QUEUE", "sqs")]),
    )
    .unwrap_err();
    assert_eq!(e.key, "queue.url");
    let s = load(
        Bin::Executor,
        File::None,
        &env(Bin::Executor, &[("CREWSHIP_QUEUE_URL", "https://q")]),
    )
    .unwrap();
    assert_eq!(s.queue_kind().unwrap(), model::QueueKind::Sqs);
    let e = load(Bin::Server, File::None, &[]).unwrap_err();
    assert_eq!(e.key, "server.internal_token");
    let e = load(
        Bin::Server,
        File::None,
        &env(
            Bin::Server,
            &[
                ("CREWSHIP_INTERNAL_TOKEN", "it"),
                ("CREWSHIP_API_TOKENS", "nope"),
            ],
        ),
    )
    .unwrap_err();
    assert_eq!(e.key, "server.api_tokens");
    assert!(
        !e.to_string().contains("nope"),
        "the value is a secret: {e}"
    );
}

#[test]
fn each_binary_has_its_work_dir_and_lambdas_log_json() {
    let work = |bin| load(bin, File::None, &[]).unwrap().executor.work_dir();
    assert_eq!(work(Bin::Executor), std::path::Path::new("./crewship-work"));
    assert_eq!(
        work(Bin::ExecutorLambda),
        std::path::Path::new("/tmp/crews")
    );
    assert!(work(Bin::LocalRunner).ends_with("crewship-local-runner"));
    let s = load(Bin::HandlerLambda, File::None, &[]).unwrap();
    assert_eq!(s.log.format, model::LogFormat::Json);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let text = "[server]\ninternal_token = \"sekrit-1\"\n[executor]\nruntime = \"keeper\"\nkeeper_url = \"https://k\"\nkeeper_token = \"sekrit-2\"";
    let s = file(Bin::LocalRunner, text).unwrap();
    let shown = format!("{s:?} {:?}", s.executor.runtime().unwrap());
    assert!(!shown.contains("sekrit"), "{shown}");
}

/// Every leaf of the structure, as dotted paths (`tokens` and `agents` are leaves).
fn structure_paths() -> Vec<String> {
    let s = load(Bin::LocalRunner, File::None, &[]).unwrap();
    let value = serde_json::to_value(&s).unwrap();
    let mut paths = Vec::new();
    for (section, v) in value.as_object().unwrap() {
        match v.as_object() {
            Some(fields) => paths.extend(fields.keys().map(|f| format!("{section}.{f}"))),
            None => paths.push(section.clone()),
        }
    }
    paths.sort();
    paths
}

#[test]
fn the_key_table_is_the_structure() {
    let mut keys: Vec<String> = KEYS.iter().map(|k| k.path.to_owned()).collect();
    keys.sort();
    assert_eq!(keys, structure_paths());
    for k in KEYS {
        assert_eq!(k.env.is_empty(), k.kind == Kind::FileOnly, "{}", k.path);
        assert!(!k.bins.is_empty(), "{}", k.path);
    }
}

/// `docs/configuration.md`'s table: one row per key, with its variable, flag, default and
/// binaries as the code has them; nothing documented that does not exist.
#[test]
fn the_reference_table_documents_every_key_and_nothing_else() {
    let doc = include_str!("../../docs/configuration.md");
    let defaults: toml::Table = toml::from_str(include_str!("defaults.toml")).unwrap();
    let cell = |c: &str| c.trim().trim_matches('`').to_owned();
    let rows: Vec<Vec<String>> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_matches('|').split(" | ").map(cell).collect())
        .collect();
    let mut documented: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    documented.sort();
    assert_eq!(documented, structure_paths(), "docs/configuration.md rows");
    for row in &rows {
        let key = keys::find(&row[0]).unwrap();
        let dash = |s: Option<String>| s.unwrap_or_else(|| "—".into());
        assert_eq!(
            row[1],
            dash(Some(key.env.to_owned()).filter(|e| !e.is_empty())),
            "{}",
            key.path
        );
        assert_eq!(
            row[2],
            dash(key.flag().map(|f| format!("--{f}"))),
            "{}",
            key.path
        );
        let default = key
            .path
            .split_once('.')
            .and_then(|(s, k)| defaults.get(s)?.get(k));
        match default {
            Some(toml::Value::String(v)) => {
                assert!(row[3].starts_with(v.as_str()), "{}: {}", key.path, row[3])
            }
            Some(v) => assert!(
                row[3].starts_with(&v.to_string()),
                "{}: {}",
                key.path,
                row[3]
            ),
            None => assert!(!row[3].is_empty(), "{}", key.path),
        }
        let bins: Vec<&str> = key.bins.iter().map(|b| b.name()).collect();
        let all = bins.len() == Bin::ALL.len();
        let shown: Vec<&str> = row[4].split(", ").map(|b| b.trim_matches('`')).collect();
        assert!(
            shown == bins || (all && shown == ["all"]),
            "{}: {:?} vs {bins:?}",
            key.path,
            row[4]
        );
    }
}

#[test]
fn the_message_names_the_key_its_origin_and_the_choices() {
    let e = load(
        Bin::Executor,
        File::None,
        &env(Bin::Executor, &[("CREWSHIP_RUNTIME", "dockr")]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "configuration key `executor.runtime` (from CREWSHIP_RUNTIME): unknown variant `dockr`, \
         expected one of `process`, `sandbox`, `docker`, `keeper`"
    );
}

#[test]
fn the_docker_runtime_takes_its_documented_defaults() {
    let s = load(
        Bin::Executor,
        File::None,
        &env(Bin::Executor, &[("CREWSHIP_RUNTIME", "docker")]),
    )
    .unwrap();
    let crate::Runtime::Docker(d) = s.executor.runtime().unwrap() else {
        panic!("not docker")
    };
    assert_eq!((d.uid, d.gid), (65534, 65534));
    assert_eq!(d.limits, crewship_core::isolation::Limits::default());
    assert_eq!(d.idle_stop, Some(std::time::Duration::from_secs(900)));
    assert_eq!(d.name_prefix, "crewship");
    assert_eq!(d.host, None);
}

#[test]
fn an_agents_isolation_takes_cpus_as_a_number_and_refuses_limits_out_of_range() {
    let agent = |isolation: &str| {
        format!(
            "[[agents]]\nid = \"a\"\ncrew_id = \"c\"\nworkspace_id = \"w\"\ncommand = [\"true\"]\n\
             isolation = {{ {isolation} }}"
        )
    };
    for (text, millis) in [("cpus = 1.5", 1500), ("cpus = 2", 2000)] {
        let s = file(Bin::LocalRunner, &agent(text)).unwrap();
        let (a, _) = &s.agents().unwrap()[0];
        assert_eq!(a.isolation.cpus.map(|c| c.millis()), Some(millis), "{text}");
    }
    let e = file(Bin::LocalRunner, &agent("memory_mb = 8")).unwrap_err();
    assert_eq!(e.key, "agents[0].isolation.memory_mb", "{e}");
}

#[test]
fn plain_http_to_keeper_is_accepted_on_loopback_only() {
    for (url, ok) in [
        ("http://127.0.0.1:7070", true),
        ("http://localhost:7070/", true),
        ("http://[::1]:7070", true),
        ("http://127.8.9.10", true),
        ("https://keeper.internal", true),
        ("http://keeper.internal:7070", false),
        ("http://10.0.0.5:7070", false),
        ("http://localhost.evil.example", false),
        ("http://[::2]:7070", false),
    ] {
        let text = format!(
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"{url}\"\nkeeper_token = \"t\""
        );
        let result = load(
            Bin::Executor,
            File::Embedded {
                name: "test",
                text: &text,
            },
            &[],
        )
        .and_then(|s| s.executor.runtime().map(|_| ()));
        assert_eq!(result.is_ok(), ok, "{url}: {result:?}");
    }
}
