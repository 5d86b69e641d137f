//! The local runner's configuration (SPEC §7): command-line flag, then environment variable,
//! then the TOML file, then the default. A configuration that cannot work stops the start with
//! a message naming the key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use crewship_core::agent::Agent;
use crewship_core::agent_spec::AgentSpec;
use crewship_core::ids::WorkspaceId;
use crewship_core::secret::Secret;
use serde::Deserialize;
use time::OffsetDateTime;

use executor::runtime::RuntimeBackend;
use handler::ConnectionLimits;

pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Settings that can also come from flags and the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, env = "CREWSHIP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Token for the internal API (X-Internal-Token); generated when unset.
    #[arg(long, env = "CREWSHIP_INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: Option<String>,
    /// Largest accepted webhook body in bytes.
    #[arg(long, env = "CREWSHIP_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Largest accepted clock difference of signed timestamps, in seconds.
    #[arg(long, env = "CREWSHIP_TIMESTAMP_TOLERANCE_SECS")]
    pub timestamp_tolerance_secs: Option<u64>,
    /// How long delivery ids and signatures are remembered, in seconds.
    #[arg(long, env = "CREWSHIP_DEDUP_WINDOW_SECS")]
    pub dedup_window_secs: Option<u64>,
    /// When X-Webhook-Secret stops being accepted (RFC 3339).
    #[arg(long, env = "CREWSHIP_LEGACY_SECRET_SUNSET")]
    pub legacy_secret_sunset: Option<String>,
    /// How long a rotated-out webhook secret keeps verifying, in seconds (0: not at all).
    #[arg(long, env = "CREWSHIP_SECRET_ROTATION_GRACE_SECS")]
    pub secret_rotation_grace_secs: Option<u64>,
    /// Seconds a client may take to send a request's line and headers.
    #[arg(long, env = "CREWSHIP_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a client may take to send a whole request body.
    #[arg(long, env = "CREWSHIP_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "CREWSHIP_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Largest request line plus headers in bytes (larger is 431).
    #[arg(long, env = "CREWSHIP_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Open connections at most (kept below the open-files limit).
    #[arg(long, env = "CREWSHIP_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Deadline of every run in seconds.
    #[arg(long, env = "CREWSHIP_RUN_TIMEOUT_SECS")]
    pub run_timeout_secs: Option<u64>,
    /// Runs executing at once.
    #[arg(long, env = "CREWSHIP_MAX_CONCURRENT_RUNS")]
    pub max_concurrent_runs: Option<usize>,
    /// Seconds between SIGTERM and SIGKILL when an agent is stopped.
    #[arg(long, env = "CREWSHIP_KILL_GRACE_SECS")]
    pub kill_grace_secs: Option<u64>,
    /// Seconds running agents get to finish on shutdown.
    #[arg(long, env = "CREWSHIP_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Where crews' working directories are created.
    #[arg(long, env = "CREWSHIP_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Container runtime: `process` (local child processes) or `keeper` (docs/keeper.md).
    #[arg(long, env = "CREWSHIP_RUNTIME")]
    pub runtime: Option<String>,
    /// Keeper's base URL, e.g. http://127.0.0.1:7070 (runtime = keeper).
    #[arg(long, env = "CREWSHIP_KEEPER_URL")]
    pub keeper_url: Option<String>,
    /// Keeper's bearer token (runtime = keeper).
    #[arg(long, env = "CREWSHIP_KEEPER_TOKEN", hide_env_values = true)]
    pub keeper_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub executor: ExecutorSection,
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Option<SocketAddr>,
    pub internal_token: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub timestamp_tolerance_secs: Option<u64>,
    pub dedup_window_secs: Option<u64>,
    pub legacy_secret_sunset: Option<String>,
    pub secret_rotation_grace_secs: Option<u64>,
    pub header_read_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_header_bytes: Option<usize>,
    pub max_connections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSection {
    pub run_timeout_secs: Option<u64>,
    pub max_concurrent_runs: Option<usize>,
    pub kill_grace_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub work_dir: Option<PathBuf>,
    pub runtime: Option<String>,
    pub keeper_url: Option<String>,
    pub keeper_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub token: String,
    pub workspace_id: String,
}

/// Everything the runner needs, resolved and validated.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub internal_token: Secret,
    pub internal_token_generated: bool,
    pub body_limit_bytes: usize,
    pub timestamp_tolerance: Duration,
    pub dedup_window: Duration,
    pub legacy_secret_sunset: OffsetDateTime,
    pub secret_rotation_grace: Duration,
    /// Deadlines and caps of the HTTP server's connections (the Keeper server's too).
    pub limits: ConnectionLimits,
    pub run_timeout: Duration,
    pub max_concurrent_runs: usize,
    pub kill_grace: Duration,
    pub shutdown_grace: Duration,
    pub work_dir: PathBuf,
    pub runtime: RuntimeBackend,
    /// Monitoring tokens; `generated` ones are printed at start.
    pub tokens: Vec<(Secret, WorkspaceId, bool)>,
    /// Agents, with whether their secret was generated (and must be printed once).
    pub agents: Vec<(Agent, bool)>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Parses a TOML configuration text.
pub fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let key = e
            .span()
            .map(|s| format!("at byte {}", s.start))
            .unwrap_or_else(|| "?".into());
        err(key, e.message().to_owned())
    })
}

impl Settings {
    pub fn resolve(file: FileConfig, o: &Overrides) -> Result<Self, ConfigError> {
        let s = &file.server;
        let e = &file.executor;
        let run_timeout_secs = o.run_timeout_secs.or(e.run_timeout_secs).unwrap_or(600);
        if run_timeout_secs == 0 {
            return Err(err("executor.run_timeout_secs", "must be at least 1"));
        }
        let sunset = match o
            .legacy_secret_sunset
            .clone()
            .or_else(|| s.legacy_secret_sunset.clone())
        {
            None => handler::config::DEFAULT_LEGACY_SUNSET,
            Some(text) => {
                OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| err("server.legacy_secret_sunset", format!("not RFC 3339: {e}")))?
            }
        };
        let (internal_token, internal_token_generated) = match o
            .internal_token
            .clone()
            .or_else(|| s.internal_token.clone())
        {
            Some(t) if t.is_empty() => return Err(err("server.internal_token", "is empty")),
            Some(t) => (Secret::new(t), false),
            None => (Secret::generate(), true),
        };
        let tokens = resolve_tokens(&file)?;
        let work_dir = o
            .work_dir
            .clone()
            .or_else(|| e.work_dir.clone())
            .unwrap_or_else(|| std::env::temp_dir().join("crewship-local-runner"));
        let runtime = resolve_runtime(o, e, &work_dir)?;
        let agents = resolve_agents(file.agents, run_timeout_secs)?;
        let limits = resolve_limits(o, s)?;
        Ok(Self {
            listen: o
                .listen
                .or(s.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid")),
            internal_token,
            internal_token_generated,
            body_limit_bytes: o
                .body_limit_bytes
                .or(s.body_limit_bytes)
                .unwrap_or(1024 * 1024),
            timestamp_tolerance: Duration::from_secs(
                o.timestamp_tolerance_secs
                    .or(s.timestamp_tolerance_secs)
                    .unwrap_or(300),
            ),
            dedup_window: Duration::from_secs(
                o.dedup_window_secs
                    .or(s.dedup_window_secs)
                    .unwrap_or(86_400),
            ),
            legacy_secret_sunset: sunset,
            secret_rotation_grace: o
                .secret_rotation_grace_secs
                .or(s.secret_rotation_grace_secs)
                .map_or(
                    handler::config::DEFAULT_SECRET_ROTATION_GRACE,
                    Duration::from_secs,
                ),
            limits,
            run_timeout: Duration::from_secs(run_timeout_secs),
            max_concurrent_runs: o.max_concurrent_runs.or(e.max_concurrent_runs).unwrap_or(8),
            kill_grace: Duration::from_secs(o.kill_grace_secs.or(e.kill_grace_secs).unwrap_or(5)),
            shutdown_grace: Duration::from_secs(
                o.shutdown_grace_secs
                    .or(e.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            work_dir,
            runtime,
            tokens,
            agents,
        })
    }
}

fn resolve_limits(o: &Overrides, s: &ServerSection) -> Result<ConnectionLimits, ConfigError> {
    let d = ConnectionLimits::default();
    let secs = |flag: Option<u64>, file: Option<u64>, default: Duration| {
        flag.or(file).map_or(default, Duration::from_secs)
    };
    let limits = ConnectionLimits {
        header_read_timeout: secs(
            o.header_read_timeout_secs,
            s.header_read_timeout_secs,
            d.header_read_timeout,
        ),
        body_timeout: secs(o.body_timeout_secs, s.body_timeout_secs, d.body_timeout),
        idle_timeout: secs(o.idle_timeout_secs, s.idle_timeout_secs, d.idle_timeout),
        max_header_bytes: o
            .max_header_bytes
            .or(s.max_header_bytes)
            .unwrap_or(d.max_header_bytes),
        max_connections: o
            .max_connections
            .or(s.max_connections)
            .unwrap_or(d.max_connections),
    };
    limits
        .validate()
        .map_err(|(key, message)| err(format!("server.{key}"), message))?;
    Ok(limits)
}

fn resolve_runtime(
    o: &Overrides,
    e: &ExecutorSection,
    work_dir: &std::path::Path,
) -> Result<RuntimeBackend, ConfigError> {
    let kind = o.runtime.clone().or_else(|| e.runtime.clone());
    match kind.as_deref().unwrap_or("process") {
        "process" => Ok(RuntimeBackend::Process {
            work_dir: work_dir.to_owned(),
        }),
        "keeper" => {
            let url = o
                .keeper_url
                .clone()
                .or_else(|| e.keeper_url.clone())
                .ok_or_else(|| err("executor.keeper_url", "required when runtime = keeper"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(err("executor.keeper_url", "must be an http(s) URL"));
            }
            let token = o
                .keeper_token
                .clone()
                .or_else(|| e.keeper_token.clone())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| err("executor.keeper_token", "required when runtime = keeper"))?;
            Ok(RuntimeBackend::Keeper {
                url,
                token: Secret::new(token),
            })
        }
        other => Err(err(
            "executor.runtime",
            format!("`{other}` is not one of: process, keeper"),
        )),
    }
}

fn resolve_tokens(file: &FileConfig) -> Result<Vec<(Secret, WorkspaceId, bool)>, ConfigError> {
    let mut tokens = Vec::new();
    for (i, t) in file.tokens.iter().enumerate() {
        if t.token.is_empty() {
            return Err(err(format!("tokens[{i}].token"), "is empty"));
        }
        let ws = t
            .workspace_id
            .parse()
            .map_err(|e| err(format!("tokens[{i}].workspace_id"), format!("{e}")))?;
        tokens.push((Secret::new(t.token.clone()), ws, false));
    }
    // Every workspace with agents gets a token, so its runs can be watched.
    for a in &file.agents {
        if let Ok(ws) = a.workspace_id.parse::<WorkspaceId>()
            && !tokens.iter().any(|(_, w, _)| *w == ws)
        {
            tokens.push((Secret::generate(), ws, true));
        }
    }
    Ok(tokens)
}

/// Each entry goes through the same validation as the management API's
/// (`AgentSpec::validate`); what only a file can get wrong (a missing id, two agents with one id)
/// is checked here. Secrets left out are generated (and printed once at start).
fn resolve_agents(
    entries: Vec<AgentSpec>,
    run_timeout_secs: u64,
) -> Result<Vec<(Agent, bool)>, ConfigError> {
    let mut agents: Vec<(Agent, bool)> = Vec::new();
    for (i, spec) in entries.into_iter().enumerate() {
        let Some(id) = spec.id.clone() else {
            return Err(err(format!("agents[{i}].id"), "is missing"));
        };
        let mut agent = spec
            .validate(&id, run_timeout_secs)
            .map_err(|e| err(format!("agents[{i}].{}", e.field), e.message))?;
        if agents.iter().any(|(other, _)| other.id == agent.id) {
            return Err(err(
                format!("agents[{i}].id"),
                format!("two agents have the id {id}"),
            ));
        }
        let generated = agent.webhook_secret.is_none();
        agent
            .webhook_secret
            .get_or_insert_with(crewship_core::secret::Secret::generate);
        agents.push((agent, generated));
    }
    Ok(agents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Settings, ConfigError> {
        Settings::resolve(parse_file(text)?, &Overrides::default())
    }

    const AGENT: &str = r#"
        [[agents]]
        id = "a1"
        crew_id = "c"
        workspace_id = "w"
        command = ["true"]
    "#;

    #[test]
    fn the_embedded_default_starts() {
        let s = resolve(DEFAULT_CONFIG).unwrap();
        assert_eq!(s.agents.len(), 1);
        assert!(s.agents[0].1, "demo secret is generated");
        assert_eq!(s.tokens.len(), 1);
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn unworkable_configurations_name_their_key() {
        let cases = [
            (
                format!("{AGENT}timeout_secs = 601"),
                "agents[0].timeout_secs",
            ),
            (
                format!("{AGENT}webhook_secret = \"short\""),
                "agents[0].webhook_secret",
            ),
            (format!("{AGENT}{AGENT}"), "agents[1].id"),
            (format!("{AGENT}adapter = \"gpt\""), "agents[0].adapter"),
            (
                format!("{AGENT}rate_limit_per_min = 0"),
                "agents[0].rate_limit_per_min",
            ),
            (
                "[[agents]]\ncrew_id = \"c\"\nworkspace_id = \"w\"\ncommand = [\"true\"]"
                    .to_owned(),
                "agents[0].id",
            ),
            (
                "[server]\nlegacy_secret_sunset = \"soon\"".to_owned(),
                "server.legacy_secret_sunset",
            ),
            (
                "[server]\nmax_header_bytes = 100".to_owned(),
                "server.max_header_bytes",
            ),
            (
                "[server]\nheader_read_timeout_secs = 0".to_owned(),
                "server.header_read_timeout_secs",
            ),
        ];
        for (text, key) in cases {
            let e = resolve(&text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }

    #[test]
    fn the_rotation_grace_period_may_be_zero() {
        let s = resolve("[server]\nsecret_rotation_grace_secs = 0").unwrap();
        assert_eq!(s.secret_rotation_grace, Duration::ZERO);
    }

    #[test]
    fn the_runtime_is_chosen_from_configuration() {
        let s = resolve("").unwrap();
        assert!(matches!(s.runtime, RuntimeBackend::Process { .. }));
        let s = resolve(
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"http://127.0.0.1:7070\"\nkeeper_token = \"k\"",
        )
        .unwrap();
        match &s.runtime {
            RuntimeBackend::Keeper { url, token } => {
                assert_eq!(url, "http://127.0.0.1:7070");
                assert_eq!(token.expose(), "k");
            }
            other => panic!("{other:?}"),
        }
        // Flags and the environment (CREWSHIP_RUNTIME, …) beat the file.
        let o = Overrides {
            runtime: Some("process".into()),
            ..Overrides::default()
        };
        let file = parse_file("[executor]\nruntime = \"keeper\"").unwrap();
        assert!(matches!(
            Settings::resolve(file, &o).unwrap().runtime,
            RuntimeBackend::Process { .. }
        ));
        for (text, key) in [
            ("[executor]\nruntime = \"docker\"", "executor.runtime"),
            ("[executor]\nruntime = \"keeper\"", "executor.keeper_url"),
            (
                "[executor]\nruntime = \"keeper\"\nkeeper_url = \"http://k\"",
                "executor.keeper_token",
            ),
        ] {
            assert_eq!(resolve(text).unwrap_err().key, key, "{text}");
        }
    }

    #[test]
    fn keeper_token_never_shows_in_debug_output() {
        let s = resolve(
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"http://k\"\nkeeper_token = \"sekrit-token\"",
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("sekrit-token"));
    }

    #[test]
    fn flags_and_environment_beat_the_file() {
        let file =
            parse_file("[executor]\nrun_timeout_secs = 100\nmax_concurrent_runs = 2").unwrap();
        let o = Overrides {
            run_timeout_secs: Some(50),
            ..Overrides::default()
        };
        let s = Settings::resolve(file, &o).unwrap();
        assert_eq!(s.run_timeout, Duration::from_secs(50));
        assert_eq!(s.secret_rotation_grace, Duration::from_secs(86_400));
        assert_eq!(s.max_concurrent_runs, 2);
    }
}
