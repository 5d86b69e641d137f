//! What the binaries take from the settings, resolved: durations, the runtime, the tokens, the
//! agents. Every check that spans keys is here, and `Settings::check` runs the ones that apply
//! to a binary at load, so a binary that started never meets these errors again.

use std::path::PathBuf;
use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::api_token::{self, ApiToken};
use crewship_core::ids::WorkspaceId;
use crewship_core::secret::Secret;

use crate::keys::Bin;
use crate::load::SettingsError;
use crate::model::{Executor, QueueKind, RuntimeKind, Settings, StoreKind};

/// The container runtime the executor uses.
#[derive(Debug, Clone)]
pub enum Runtime {
    Process { work_dir: PathBuf },
    Keeper { url: String, token: Secret },
}

/// A monitoring token, and whether it was generated (and is printed once at start).
#[derive(Debug, Clone)]
pub struct Token {
    pub token: ApiToken,
    pub generated: bool,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> SettingsError {
    SettingsError::new(key, message)
}

impl Settings {
    /// The checks that span keys, for the sections `bin` reads.
    pub fn check(&self, bin: Bin) -> Result<(), SettingsError> {
        use Bin::*;
        if matches!(bin, LocalRunner | Server | HandlerLambda) {
            if self
                .server
                .internal_token
                .as_ref()
                .is_some_and(Secret::is_empty)
            {
                return Err(err("server.internal_token", "is empty"));
            }
            self.tokens()?;
        }
        if bin == Server && self.server.internal_token.is_none() {
            return Err(err("server.internal_token", "required by crewship-server"));
        }
        if self.executor.run_timeout_secs == 0 {
            return Err(err("executor.run_timeout_secs", "must be at least 1"));
        }
        if matches!(bin, LocalRunner | Executor | ExecutorLambda) {
            self.executor.runtime()?;
        }
        if bin == LocalRunner {
            self.agents()?;
        }
        self.check_store(bin)?;
        if matches!(bin, Server | Executor | HandlerLambda | ExecutorLambda) {
            self.queue_kind()?;
        }
        if bin == WsLambda {
            if self.ws.connections_table.is_none() {
                return Err(err("ws.connections_table", "required by ws-lambda"));
            }
            if self.ws.endpoint.is_none() {
                return Err(err("ws.endpoint", "required by ws-lambda"));
            }
        }
        Ok(())
    }

    /// The store backend: as set, else `sqlite` when a path is set, else `memory`.
    pub fn store_kind(&self) -> Result<StoreKind, SettingsError> {
        let s = &self.store;
        let kind = s.backend.unwrap_or(if s.path.is_some() {
            StoreKind::Sqlite
        } else {
            StoreKind::Memory
        });
        match (kind, &s.path) {
            (StoreKind::Sqlite, None) => Err(err(
                "store.path",
                "required with store.backend = sqlite (or --data FILE)",
            )),
            (StoreKind::Memory | StoreKind::Dynamodb, Some(_)) => Err(err(
                "store.path",
                "is the SQLite file: it needs store.backend = sqlite (or unset)",
            )),
            _ => Ok(kind),
        }
    }

    fn check_store(&self, bin: Bin) -> Result<(), SettingsError> {
        let s = &self.store;
        let kind = self.store_kind()?;
        match (bin, kind) {
            (Bin::LocalRunner, StoreKind::Dynamodb) => {
                return Err(err(
                    "store.backend",
                    "local-runner serves memory or sqlite; dynamodb is for the cloud binaries",
                ));
            }
            (Bin::LocalRunner, _) | (_, StoreKind::Memory | StoreKind::Dynamodb) => {}
            (_, StoreKind::Sqlite) => {
                return Err(err(
                    "store.backend",
                    "sqlite is served by local-runner only (one process owns the file)",
                ));
            }
        }
        if bin == Bin::LocalRunner {
            if self.retention.max_runs_per_agent == 0 {
                return Err(err("retention.max_runs_per_agent", "must be at least 1"));
            }
            if self.retention.log_max_lines == 0 || self.retention.log_max_bytes == 0 {
                return Err(err("retention.log_max_lines", "caps must be at least 1"));
            }
        }
        if kind == StoreKind::Dynamodb {
            if s.payload_bucket.is_none() && bin != Bin::Provision {
                return Err(err(
                    "store.payload_bucket",
                    "required with store.backend = dynamodb",
                ));
            }
            if s.secrets_key.is_none() && !s.allow_plaintext_secrets && bin != Bin::Provision {
                return Err(err(
                    "store.secrets_key",
                    "agent records would be stored in plaintext: set CREWSHIP_SECRETS_KEY \
                     (base64, 32 bytes) or explicitly CREWSHIP_ALLOW_PLAINTEXT_SECRETS=true",
                ));
            }
        }
        Ok(())
    }

    /// The queue backend: as set, else `sqs` when a URL is set, else `memory`.
    pub fn queue_kind(&self) -> Result<QueueKind, SettingsError> {
        let kind = self.queue.backend.unwrap_or(if self.queue.url.is_some() {
            QueueKind::Sqs
        } else {
            QueueKind::Memory
        });
        if kind == QueueKind::Sqs && self.queue.url.is_none() {
            return Err(err("queue.url", "required with queue.backend = sqs"));
        }
        Ok(kind)
    }

    /// Monitoring tokens: `[[tokens]]`, then `server.api_tokens`, then (local-runner) a
    /// generated one for every workspace with agents but no token, so its runs can be watched.
    pub fn tokens(&self) -> Result<Vec<Token>, SettingsError> {
        let mut tokens = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.token.is_empty() {
                return Err(err(format!("tokens[{i}].token"), "is empty"));
            }
            let workspace_id = t
                .workspace_id
                .parse()
                .map_err(|e| err(format!("tokens[{i}].workspace_id"), format!("{e}")))?;
            tokens.push(Token {
                token: ApiToken {
                    token: t.token.clone(),
                    workspace_id,
                },
                generated: false,
            });
        }
        if let Some(pairs) = &self.server.api_tokens {
            let parsed = api_token::parse_pairs(pairs.expose())
                .map_err(|problem| err("server.api_tokens", problem))?;
            tokens.extend(parsed.into_iter().map(|token| Token {
                token,
                generated: false,
            }));
        }
        for a in &self.agents {
            if let Ok(ws) = a.workspace_id.parse::<WorkspaceId>()
                && !tokens.iter().any(|t| t.token.workspace_id == ws)
            {
                tokens.push(Token {
                    token: ApiToken {
                        token: Secret::generate(),
                        workspace_id: ws,
                    },
                    generated: true,
                });
            }
        }
        Ok(tokens)
    }

    /// The file's agents, each through the management API's validation (`AgentSpec::validate`);
    /// what only a file can get wrong (a missing id, two agents with one id) is checked here.
    /// Secrets left out are generated: `true` beside an agent says so (it is printed once).
    pub fn agents(&self) -> Result<Vec<(Agent, bool)>, SettingsError> {
        let mut agents: Vec<(Agent, bool)> = Vec::new();
        for (i, spec) in self.agents.iter().cloned().enumerate() {
            let Some(id) = spec.id.clone() else {
                return Err(err(format!("agents[{i}].id"), "is missing"));
            };
            let mut agent = spec
                .validate(&id, self.executor.run_timeout_secs)
                .map_err(|e| err(format!("agents[{i}].{}", e.field), e.message))?;
            if agents.iter().any(|(other, _)| other.id == agent.id) {
                return Err(err(
                    format!("agents[{i}].id"),
                    format!("two agents have the id {id}"),
                ));
            }
            let generated = agent.webhook_secret.is_none();
            agent.webhook_secret.get_or_insert_with(Secret::generate);
            agents.push((agent, generated));
        }
        Ok(agents)
    }
}

impl Executor {
    pub fn run_timeout(&self) -> Duration {
        Duration::from_secs(self.run_timeout_secs)
    }

    /// Where crews' directories go (each binary has its default).
    pub fn work_dir(&self) -> PathBuf {
        self.work_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("crewship-local-runner"))
    }

    pub fn runtime(&self) -> Result<Runtime, SettingsError> {
        match self.runtime {
            RuntimeKind::Process => Ok(Runtime::Process {
                work_dir: self.work_dir(),
            }),
            RuntimeKind::Keeper => {
                let url = self
                    .keeper_url
                    .clone()
                    .ok_or_else(|| err("executor.keeper_url", "required when runtime = keeper"))?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(err("executor.keeper_url", "must be an http(s) URL"));
                }
                let token = self
                    .keeper_token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        err("executor.keeper_token", "required when runtime = keeper")
                    })?;
                Ok(Runtime::Keeper { url, token })
            }
        }
    }
}
