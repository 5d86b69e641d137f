//! The local runner's settings: the one model every binary uses (`crewship-settings`,
//! docs/configuration.md), for binary `local-runner`, with the embedded demo configuration as
//! the file when none is given — then resolved once into what `serve`, `trigger` and `keeper`
//! need (generated secrets included). A configuration that cannot work stops the start with a
//! message naming the key.

use std::net::SocketAddr;
use std::path::PathBuf;

use crewship_core::agent::Agent;
use crewship_core::ids::WorkspaceId;
use crewship_core::secret::Secret;
use crewship_settings::{Bin, File, ForBin, SettingsError};
use executor::runtime::RuntimeBackend;
use handler::ConnectionLimits;

pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Debug)]
pub struct ThisBin;
impl ForBin for ThisBin {
    const BIN: Bin = Bin::LocalRunner;
}

/// The flags (and `CREWSHIP_*` variables) of every setting local-runner reads.
pub type Flags = crewship_settings::Flags<ThisBin>;

/// Everything the runner needs, resolved and validated.
#[derive(Debug)]
pub struct Settings {
    pub model: crewship_settings::Settings,
    pub listen: SocketAddr,
    pub internal_token: Secret,
    pub internal_token_generated: bool,
    pub work_dir: PathBuf,
    pub runtime: RuntimeBackend,
    /// Deadlines and caps of the HTTP server's connections (the Keeper server's too).
    pub limits: ConnectionLimits,
    /// Monitoring tokens; `generated` ones are printed at start.
    pub tokens: Vec<(Secret, WorkspaceId, bool)>,
    /// Agents, with whether their secret was generated (and must be printed once).
    pub agents: Vec<(Agent, bool)>,
}

/// Loads the layers (`--config` or the demo configuration as the file) and resolves them.
pub fn load(flags: &Flags) -> Result<Settings, SettingsError> {
    Settings::resolve(flags.load(File::Embedded {
        name: "the embedded demo configuration",
        text: DEFAULT_CONFIG,
    })?)
}

impl Settings {
    pub fn resolve(model: crewship_settings::Settings) -> Result<Self, SettingsError> {
        let (internal_token, internal_token_generated) = match &model.server.internal_token {
            Some(t) => (t.clone(), false),
            None => (Secret::generate(), true),
        };
        let tokens = model
            .tokens()?
            .into_iter()
            .map(|t| (t.token.token, t.token.workspace_id, t.generated))
            .collect();
        Ok(Self {
            listen: model.server.listen,
            internal_token,
            internal_token_generated,
            work_dir: model.executor.work_dir(),
            runtime: model.executor.runtime()?.into(),
            limits: ConnectionLimits::from_settings(&model.server)?,
            tokens,
            agents: model.agents()?,
            model,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crewship_settings::load::Override;
    use crewship_settings::{keys, load as lay};

    use super::*;

    fn resolve_with(text: &str, overrides: &[Override]) -> Result<Settings, SettingsError> {
        Settings::resolve(lay(
            Bin::LocalRunner,
            File::Embedded { name: "test", text },
            overrides,
        )?)
    }

    fn resolve(text: &str) -> Result<Settings, SettingsError> {
        resolve_with(text, &[])
    }

    fn flag(path: &str, value: &str) -> Override {
        Override {
            key: keys::find(path).unwrap(),
            value: value.into(),
            origin: "--flag".into(),
        }
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
        ];
        for (text, key) in cases {
            let e = resolve(&text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }

    #[test]
    fn the_rotation_grace_period_may_be_zero() {
        let s = resolve("[server]\nsecret_rotation_grace_secs = 0").unwrap();
        assert_eq!(s.model.server.secret_rotation_grace_secs, 0);
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
            RuntimeBackend::Keeper { url, token, .. } => {
                assert_eq!(url, "http://127.0.0.1:7070");
                assert_eq!(token.expose(), "k");
            }
            other => panic!("{other:?}"),
        }
        // Flags and the environment (CREWSHIP_RUNTIME, …) beat the file.
        let s = resolve_with(
            "[executor]\nruntime = \"keeper\"",
            &[flag("executor.runtime", "process")],
        )
        .unwrap();
        assert!(matches!(s.runtime, RuntimeBackend::Process { .. }));
        for (text, key) in [
            ("[executor]\nruntime = \"dockr\"", "executor.runtime"),
            ("[executor]\nruntime = \"keeper\"", "executor.keeper_url"),
            (
                "[executor]\nruntime = \"keeper\"\nkeeper_url = \"https://k\"",
                "executor.keeper_token",
            ),
        ] {
            assert_eq!(resolve(text).unwrap_err().key, key, "{text}");
        }
    }

    #[test]
    fn keeper_token_never_shows_in_debug_output() {
        let s = resolve(
            "[executor]\nruntime = \"keeper\"\nkeeper_url = \"https://k\"\nkeeper_token = \"sekrit-token\"",
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("sekrit-token"));
    }

    #[test]
    fn flags_and_environment_beat_the_file() {
        let s = resolve_with(
            "[executor]\nrun_timeout_secs = 100\nmax_concurrent_runs = 2",
            &[flag("executor.run_timeout_secs", "50")],
        )
        .unwrap();
        assert_eq!(s.model.executor.run_timeout(), Duration::from_secs(50));
        assert_eq!(s.model.server.secret_rotation_grace_secs, 86_400);
        assert_eq!(s.model.executor.max_concurrent_runs, 2);
    }
}
