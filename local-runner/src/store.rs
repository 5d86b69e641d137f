//! The store the runner serves from, chosen once from `[store]` (docs/stores.md): memory, or
//! SQLite in one file. With SQLite, the configured agents and the generated secrets meet what
//! the file already holds: a stored agent keeps its (possibly rotated) webhook secrets, and a
//! secret generated at an earlier start is used again instead of a new one. Either store sweeps
//! its finished history on a timer (`[retention]`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crewship_core::broadcast::Hub;
use crewship_core::clock::Clock;
use crewship_core::ports::{MemoryPorts, Ports};
use crewship_core::registry::MemoryRegistry;
use crewship_core::retention::{Retention, RetentionPolicy};
use crewship_core::sqlite::{Recovered, SqliteOptions, SqlitePorts, SqliteStore};
use crewship_settings::model::StoreKind;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

/// The ports and what the banner says about them.
pub struct Store {
    pub ports: Ports,
    pub hub: Arc<Hub>,
    pub retention: Arc<dyn Retention>,
    pub kind: Kind,
}

/// How often the retention sweep runs: often enough that a burst's finished runs do not pile
/// up for long, rarely enough that its scan costs nothing next to the webhooks.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The `[retention]` limits of the stores.
pub fn policy(settings: &Settings) -> RetentionPolicy {
    let r = &settings.model.retention;
    RetentionPolicy {
        max_age: Duration::from_secs(r.max_age_secs),
        max_runs_per_agent: r.max_runs_per_agent,
    }
}

/// Sweeps at start, then every [`SWEEP_EVERY`], until `stop`.
pub async fn sweep_until_stopped(
    retention: Arc<dyn Retention>,
    policy: RetentionPolicy,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) {
    loop {
        match retention.sweep(&policy, clock.now()).await {
            Ok(swept) if swept.runs > 0 => {
                tracing::info!(
                    runs = swept.runs,
                    reservations = swept.reservations,
                    "retention sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

pub enum Kind {
    Memory,
    Sqlite { path: PathBuf, recovered: Recovered },
}

impl Kind {
    /// The banner's line: which store, and what a restart loses.
    pub fn describe(&self) -> String {
        match self {
            Kind::Memory => "store: memory — a restart loses every run, log, dedup reservation, \
                             registered agent, rotated secret and generated secret \
                             (--data FILE keeps them)"
                .into(),
            Kind::Sqlite { path, recovered } => format!(
                "store: sqlite {} — a restart loses nothing answered 202: runs, logs, dedup \
                 reservations, agents, rotated secrets and generated secrets are kept; at this \
                 start {} QUEUED runs are waiting and {} left RUNNING are finished `executor lost`",
                path.display(),
                recovered.queued,
                recovered.running
            ),
        }
    }

    /// The registry as the handler's prerequisites report it.
    pub fn registry_name(&self) -> String {
        match self {
            Kind::Memory => "in-memory registry".into(),
            Kind::Sqlite { path, .. } => format!("sqlite registry {}", path.display()),
        }
    }

    pub fn log_writer_name(&self) -> String {
        match self {
            Kind::Memory => "in-memory log store".into(),
            Kind::Sqlite { path, .. } => format!("sqlite log store {}", path.display()),
        }
    }
}

/// Opens the store the settings name. `settings` is updated in place when the file already
/// holds a secret the settings had just generated.
pub async fn open(settings: &mut Settings, queue_visibility: Duration) -> anyhow::Result<Store> {
    let model = &settings.model;
    match model.store_kind()? {
        StoreKind::Sqlite => {
            let path = model
                .store
                .path
                .clone()
                .expect("store_kind checked the path");
            let options = SqliteOptions {
                path: path.clone(),
                secrets_key: model.store.secrets_key.clone(),
                queue_visibility,
            };
            let sqlite = tokio::task::spawn_blocking(move || SqlitePorts::open(&options))
                .await?
                .with_context(|| format!("opening the sqlite store {}", path.display()))?;
            seed(settings, &sqlite).await?;
            Ok(Store {
                ports: sqlite.ports,
                hub: sqlite.hub,
                retention: sqlite.retention,
                kind: Kind::Sqlite {
                    path,
                    recovered: sqlite.recovered,
                },
            })
        }
        _ => {
            let registry = Arc::new(MemoryRegistry::new(
                settings.agents.iter().map(|(a, _)| a.clone()),
            ));
            let memory = MemoryPorts::new(registry, queue_visibility);
            Ok(Store {
                ports: memory.ports,
                hub: memory.hub,
                retention: memory.retention,
                kind: Kind::Memory,
            })
        }
    }
}

/// The configured agents into the file, and the generated secrets out of it.
async fn seed(settings: &mut Settings, sqlite: &SqlitePorts) -> anyhow::Result<()> {
    let store: &SqliteStore = &sqlite.store;
    if settings.internal_token_generated {
        let (token, fresh) = store
            .keep_generated("internal_token", settings.internal_token.clone())
            .await?;
        settings.internal_token = token;
        settings.internal_token_generated = fresh;
    }
    for (token, workspace, generated) in &mut settings.tokens {
        if *generated {
            let (kept, fresh) = store
                .keep_generated(&format!("monitoring_token:{workspace}"), token.clone())
                .await?;
            *token = kept;
            *generated = fresh;
        }
    }
    let agents = &sqlite.ports.agents;
    for (agent, generated) in &mut settings.agents {
        // Compare-and-swap: the management API may write the same agent concurrently only
        // once the server is up, but the loop keeps the rule in one place.
        loop {
            let stored = agents.get(&agent.id).await?;
            let mut next = agent.clone();
            if let Some(stored) = &stored {
                // Rotation is the API's; the file only seeds a new agent's secret.
                next.webhook_secret.clone_from(&stored.webhook_secret);
                next.previous_secret.clone_from(&stored.previous_secret);
                *generated = false;
            }
            if stored.as_ref() == Some(&next)
                || agents
                    .compare_and_swap(stored.as_ref(), next.clone())
                    .await?
            {
                *agent = next;
                break;
            }
        }
    }
    Ok(())
}
