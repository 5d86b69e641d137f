//! What the binaries take from the settings, resolved: durations, the runtime, the tokens, the
//! agents. Every check that spans keys is here, and `Settings::check` runs the ones that apply
//! to a binary at load, so a binary that started never meets these errors again.

use std::path::PathBuf;
use std::time::Duration;

use crewship_core::agent::Agent;
use crewship_core::api_token::{self, ApiToken};
use crewship_core::ids::WorkspaceId;
use crewship_core::isolation::{Cpus, Limits};
use crewship_core::json_depth::MAX_CONFIGURABLE_DEPTH;
use crewship_core::secret::Secret;

use crate::keys::Bin;
use crate::load::SettingsError;
use crate::model::{Executor, QueueKind, RuntimeKind, Settings, StoreKind};

/// The container runtime the executor uses.
#[derive(Debug, Clone)]
pub enum Runtime {
    Process {
        work_dir: PathBuf,
    },
    /// Local processes under bubblewrap.
    Sandbox {
        work_dir: PathBuf,
    },
    Docker(DockerOptions),
    Keeper {
        url: String,
        token: Secret,
        /// CA certificates (PEM) Keeper's certificate is verified against, instead of the
        /// system's roots.
        ca_file: Option<PathBuf>,
    },
}

/// The `docker` runtime's settings (`executor.docker_*`, docs/runtimes.md), checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerOptions {
    /// `unix:///…`; `None`: `DOCKER_HOST`, then the engine's default socket.
    pub host: Option<String>,
    /// Where crews' directories are created on the host, then mounted at `/work`.
    pub work_dir: PathBuf,
    /// The image when the agent names none.
    pub image: Option<String>,
    pub uid: u32,
    pub gid: u32,
    /// `None`: containers are never stopped for idleness.
    pub idle_stop: Option<Duration>,
    /// The limits an agent leaves out.
    pub limits: Limits,
    /// Names are `<prefix>-<workspace>.<crew>-<hash>`, labelled `crewship.instance=<prefix>`.
    pub name_prefix: String,
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
        if !(1..=MAX_CONFIGURABLE_DEPTH).contains(&self.server.max_json_depth) {
            return Err(err(
                "server.max_json_depth",
                format!("must be from 1 to {MAX_CONFIGURABLE_DEPTH}"),
            ));
        }
        if let Err(e) = self
            .server
            .callback_retry_secs
            .parse::<crewship_core::callbacks::RetrySchedule>()
        {
            return Err(err("server.callback_retry_secs", e.to_string()));
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
        if bin == CallbackLambda && self.queue.callbacks_url.is_none() {
            return Err(err("queue.callbacks_url", "required by callback-lambda"));
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
            RuntimeKind::Sandbox => Ok(Runtime::Sandbox {
                work_dir: self.work_dir(),
            }),
            RuntimeKind::Docker => self.docker().map(Runtime::Docker),
            RuntimeKind::Keeper => {
                let url = self
                    .keeper_url
                    .clone()
                    .ok_or_else(|| err("executor.keeper_url", "required when runtime = keeper"))?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(err("executor.keeper_url", "must be an http(s) URL"));
                }
                if let Some(rest) = url.strip_prefix("http://")
                    && !is_loopback(rest)
                {
                    return Err(err(
                        "executor.keeper_url",
                        "plain http:// to a host other than this one would send Keeper's bearer \
                         token in clear: use https:// (Keeper's --tls-cert and --tls-key)",
                    ));
                }
                let token = self
                    .keeper_token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        err("executor.keeper_token", "required when runtime = keeper")
                    })?;
                Ok(Runtime::Keeper {
                    url,
                    token,
                    ca_file: self.keeper_ca_file.clone(),
                })
            }
        }
    }

    /// The docker runtime's options (`executor.docker_*`), checked.
    pub fn docker(&self) -> Result<DockerOptions, SettingsError> {
        if let Some(host) = &self.docker_host
            && !host.starts_with("unix:///")
        {
            // TCP would put root-equivalent access to the engine on the network, in clear.
            return Err(err(
                "executor.docker_host",
                "must be a unix socket, unix:///path",
            ));
        }
        if let Some(image) = &self.docker_image {
            crewship_core::isolation::Isolation {
                image: Some(image.clone()),
                ..Default::default()
            }
            .validate()
            .map_err(|e| err("executor.docker_image", e.message))?;
        }
        let (uid, gid) = parse_user(&self.docker_user).ok_or_else(|| {
            err(
                "executor.docker_user",
                "must be numeric uid:gid, e.g. 65534:65534",
            )
        })?;
        let limits = Limits {
            memory_mb: self.docker_memory_mb,
            cpus: Cpus::from_millis(self.docker_millicpus),
            pids_limit: self.docker_pids_limit,
        };
        if let Some((name, message)) = limits.out_of_range() {
            let key = match name {
                "memory_mb" => "executor.docker_memory_mb",
                "cpus" => "executor.docker_millicpus",
                _ => "executor.docker_pids_limit",
            };
            return Err(err(key, message));
        }
        let prefix = &self.docker_name_prefix;
        let prefix_ok = (1..=64).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_alphanumeric())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !prefix_ok {
            return Err(err(
                "executor.docker_name_prefix",
                "must be 1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or digit",
            ));
        }
        Ok(DockerOptions {
            host: self.docker_host.clone(),
            work_dir: self.work_dir(),
            image: self.docker_image.clone(),
            uid,
            gid,
            idle_stop: (self.docker_idle_stop_secs > 0)
                .then(|| Duration::from_secs(self.docker_idle_stop_secs)),
            limits,
            name_prefix: prefix.clone(),
        })
    }
}

/// `uid:gid`, both numbers: the crew directory is given to this owner, so names (which only the
/// image's `/etc/passwd` knows) are not accepted.
fn parse_user(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = user.split_once(':')?;
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

/// Whether the authority at the start of `rest` (what follows `http://`) is this machine:
/// `localhost`, an address in 127.0.0.0/8, or `[::1]`.
fn is_loopback(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in the URL (`user@host`) are not a host.
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
