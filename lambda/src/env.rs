//! Cold-start configuration of the Lambda functions: environment variables, where a variable
//! `NAME_SSM` names an SSM SecureString whose decrypted value becomes `NAME`. Secrets thus never
//! sit in the template, its outputs or the functions' configuration. Each function resolves only
//! the secrets [`crate::access`] lists for it. The resolved environment then goes through the
//! one settings loader every binary uses (docs/configuration.md): [`Env::settings`].

use std::collections::HashMap;

use std::path::PathBuf;

use crewship_settings::model::LogFormat;
use crewship_settings::{Bin, File, Settings, SettingsError, env_overrides, load};

use crate::access;

pub struct Env {
    vars: HashMap<String, String>,
}

/// A secret could not be read at cold start. Names the variable and the parameter, never a
/// value.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("reading SSM parameter {parameter} for {var}")]
    Ssm {
        var: &'static str,
        parameter: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("SSM parameter {parameter} for {var} has no value")]
    Empty {
        var: &'static str,
        parameter: String,
    },
}

impl Env {
    /// Reads the environment and resolves `bin`'s `*_SSM` references (its secrets in
    /// [`access::FUNCTIONS`]), once per cold start. Other `*_SSM` variables are ignored: a
    /// secret this function does not use is never read, so its role need not allow it.
    pub async fn load(sdk: &aws_config::SdkConfig, bin: Bin) -> Result<Self, EnvError> {
        let mut vars: HashMap<String, String> =
            std::env::vars().filter(|(_, v)| !v.is_empty()).collect();
        let secrets = access::of(bin).map_or(&[][..], |a| a.secrets);
        let references: Vec<(&'static str, String)> = secrets
            .iter()
            .filter(|s| !vars.contains_key(s.var))
            .filter_map(|s| Some((s.var, vars.get(&format!("{}_SSM", s.var))?.clone())))
            .collect();
        if !references.is_empty() {
            let ssm = aws_sdk_ssm::Client::new(sdk);
            for (var, parameter) in references {
                let value = ssm
                    .get_parameter()
                    .name(&parameter)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| EnvError::Ssm {
                        var,
                        parameter: parameter.clone(),
                        source: Box::new(e),
                    })?
                    .parameter
                    .and_then(|p| p.value)
                    .ok_or_else(|| EnvError::Empty {
                        var,
                        parameter: parameter.clone(),
                    })?;
                vars.insert(var.to_owned(), value);
            }
        }
        Ok(Self { vars })
    }

    /// An environment given whole (tests).
    pub fn from_vars(vars: HashMap<String, String>) -> Self {
        Self { vars }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// The settings of `bin`: the embedded defaults, the file `CREWSHIP_CONFIG` names (if
    /// any), then this environment. An unknown or malformed value is an error naming its key.
    pub fn settings(&self, bin: Bin) -> Result<Settings, SettingsError> {
        let file = self.get("CREWSHIP_CONFIG").map(PathBuf::from);
        let file = file.as_deref().map_or(File::None, File::Path);
        load(bin, file, &env_overrides(bin, |name| self.get(name)))
    }
}

/// Log lines without timestamps (CloudWatch adds its own); JSON by default, as CloudWatch Logs
/// Insights reads them.
pub fn init_tracing(format: LogFormat) {
    use handler::telemetry::{LogFormat as Lines, init_tracing};
    init_tracing(match format {
        LogFormat::Json => Lines::JsonWithoutTime,
        LogFormat::Human => Lines::HumanWithoutTime,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_vars(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    const WS: [(&str, &str); 2] = [
        ("CREWSHIP_CONNECTIONS_TABLE", "conns"),
        ("CREWSHIP_WS_ENDPOINT", "https://ws.example/live"),
    ];

    #[test]
    fn a_mistyped_runtime_or_backend_stops_every_lambda_function_naming_the_key() {
        let cases: &[(Bin, (&str, &str), &str)] = &[
            (
                Bin::ExecutorLambda,
                ("CREWSHIP_RUNTIME", "dockr"),
                "executor.runtime",
            ),
            (
                Bin::ExecutorLambda,
                ("CREWSHIP_STORE", "dynamo"),
                "store.backend",
            ),
            (
                Bin::ExecutorLambda,
                ("CREWSHIP_QUEUE", "kafka"),
                "queue.backend",
            ),
            (
                Bin::HandlerLambda,
                ("CREWSHIP_STORE", "dynamo"),
                "store.backend",
            ),
            (
                Bin::HandlerLambda,
                ("CREWSHIP_QUEUE", "kafka"),
                "queue.backend",
            ),
            (Bin::WsLambda, ("CREWSHIP_STORE", "dynamo"), "store.backend"),
        ];
        for (bin, var, key) in cases {
            let mut vars = WS.to_vec();
            vars.push(*var);
            let e = env(&vars).settings(*bin).unwrap_err();
            assert_eq!(e.key, *key, "{}: {e}", bin.name());
            assert_eq!(e.origin.as_deref(), Some(var.0), "{}: {e}", bin.name());
        }
        // The runtime was a silent fallback to `process` once; and the deployed values start.
        let mut vars = WS.to_vec();
        vars.extend([
            ("CREWSHIP_RUNTIME", "keeper"),
            ("CREWSHIP_KEEPER_URL", "https://k"),
        ]);
        assert_eq!(
            env(&vars).settings(Bin::ExecutorLambda).unwrap_err().key,
            "executor.keeper_token"
        );
        vars.push(("CREWSHIP_KEEPER_TOKEN", "t"));
        assert!(env(&vars).settings(Bin::ExecutorLambda).is_ok());
        assert_eq!(
            env(&[]).settings(Bin::WsLambda).unwrap_err().key,
            "ws.connections_table"
        );
    }

    #[test]
    fn the_lambda_functions_read_the_handler_settings_the_local_runner_reads() {
        let s = env(&[
            ("CREWSHIP_BODY_LIMIT_BYTES", "2048"),
            ("CREWSHIP_DEDUP_WINDOW_SECS", "60"),
            ("CREWSHIP_LEGACY_SECRET_SUNSET", "2025-01-01T00:00:00Z"),
        ])
        .settings(Bin::HandlerLambda)
        .unwrap();
        assert_eq!(s.server.body_limit_bytes, 2048);
        assert_eq!(s.server.dedup_window_secs, 60);
        assert_eq!(s.server.legacy_secret_sunset.year(), 2025);
        assert_eq!(s.log.format, LogFormat::Json);
    }
}
