//! Every store port and the run queue in one SQLite file, for a single machine that must not
//! lose what it answered for (docs/stores.md): runs, dedup reservations, chat
//! sessions, agents (sealed at rest), log entries, the queue, the outbox of completion
//! callbacks, and the secrets a local runner generated.
//!
//! - `db`: the writer thread with group commit, and the reader connections.
//! - `cache`: the agents and the run counts per status, kept in memory beside the file.
//! - `schema`: the versioned migrations run at open.
//! - [`key`]: the sealing key file made beside the database when none is configured.
//! - `runs`, `dedup`, `chats`, `agents`, `logs`, `secrets`, `callbacks`: the store ports on
//!   [`SqliteStore`].
//! - `queue`: [`SqliteQueue`], the run queue with visibility timeouts in a table.
//! - `intake`: a run and its queue message in one transaction.
//! - `retention`: deleting finished history past its age or count.
//!
//! One process owns the file at a time (a lock file beside it), so what the file says was in
//! flight when it was opened belonged to a dead process: at open, received messages become
//! visible again and RUNNING runs' leases are expired, so the executor's first sweep finishes
//! them `executor lost` and the QUEUED ones run.

mod agents;
mod cache;
mod callbacks;
mod chats;
mod db;
mod dedup;
mod intake;
pub mod key;
mod logs;
mod queue;
mod retention;
mod runs;
mod schema;
mod secrets;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fs4::fs_std::FileExt;
use time::OffsetDateTime;

pub use queue::SqliteQueue;

use crate::broadcast::Hub;
use crate::clock::{Clock, SystemClock};
use crate::ports::Ports;
use crate::retention::Retention;
use crate::seal::{SealError, Sealing};
use crate::store::{BoxError, StoreError};
use db::Db;

#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("sqlite")]
    Sql(#[source] rusqlite::Error),
    #[error("sqlite commit failed")]
    Commit(#[source] Arc<rusqlite::Error>),
    #[error(
        "the database {found} migrations ahead of this binary's {known}: written by a newer version"
    )]
    NewerSchema { found: usize, known: usize },
    #[error("the sqlite writer thread is gone")]
    WriterGone,
    #[error("starting the sqlite writer thread")]
    Thread(#[source] std::io::Error),
    #[error("{0} is in use by another process")]
    Locked(PathBuf),
    #[error("lock file {0}")]
    LockFile(PathBuf, #[source] std::io::Error),
    #[error("key file {0}")]
    KeyFile(PathBuf, #[source] std::io::Error),
    #[error("key file {0} is readable by others than its owner (chmod 600 it)")]
    KeyFileOpen(PathBuf),
    #[error("sealing")]
    Seal(#[source] SealError),
    #[error("a stored record is malformed")]
    Corrupt(#[source] BoxError),
}

impl SqliteError {
    fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Corrupt(Box::new(e))
    }
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

fn unavailable(e: SqliteError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Unix nanoseconds: every instant reads back as written (until the year 2262).
fn nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// What the store found in flight at open, left by the process that had the file before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Runs still QUEUED: they run now.
    pub queued: u64,
    /// RUNNING runs, whose leases were expired: the executor finishes them `executor lost`.
    pub running: u64,
    /// Queue messages that had been received and were made visible again.
    pub messages: u64,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// Base64 32-byte key; `None`: the key file beside the database ([`key`]).
    pub secrets_key: Option<crate::secret::Secret>,
    /// How long a received message stays hidden unless extended.
    pub queue_visibility: Duration,
}

/// The store ports over one file: runs, dedup, chats, agents, logs and generated secrets.
pub struct SqliteStore {
    db: Arc<Db>,
    cache: Arc<cache::Cache>,
    sealing: Sealing,
    path: PathBuf,
    /// Held for the store's life: the file's single owner (see the module doc).
    _lock: File,
}

impl SqliteStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The SQLite adapters as [`Ports`], with handles to the concrete ones.
pub struct SqlitePorts {
    pub ports: Ports,
    pub store: Arc<SqliteStore>,
    /// The sweep over the file (docs/stores.md, Retention).
    pub retention: Arc<dyn Retention>,
    pub queue: Arc<SqliteQueue>,
    pub hub: Arc<Hub>,
    pub recovered: Recovered,
}

impl SqlitePorts {
    /// Opens (or creates) the database, migrates it and takes over what a previous process
    /// left in flight.
    pub fn open(options: &SqliteOptions) -> Result<Self, SqliteError> {
        Self::open_with_clock(options, Arc::new(SystemClock))
    }

    pub fn open_with_clock(
        options: &SqliteOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SqliteError> {
        let path = &options.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SqliteError::LockFile(dir.into(), e))?;
        }
        let lock = take_lock(path)?;
        let sealing = match &options.secrets_key {
            Some(key) => Sealing::from_base64_key(key.expose()).map_err(SqliteError::Seal)?,
            None => key::load_or_create(path)?,
        };
        let mut recovered = Recovered::default();
        let mut loaded = None;
        let db = Arc::new(Db::open(path, |conn| {
            recovered = recover(conn)?;
            loaded = Some(cache::Cache::load(conn, &sealing)?);
            Ok(())
        })?);
        let cache = Arc::new(loaded.expect("prepared before the writer starts"));
        let store = Arc::new(SqliteStore {
            db: db.clone(),
            cache: cache.clone(),
            sealing,
            path: path.clone(),
            _lock: lock,
        });
        let queue = Arc::new(SqliteQueue::new(db.clone(), options.queue_visibility));
        let hub = Arc::new(Hub::new());
        let ports = Ports {
            runs: store.clone(),
            dedup: store.clone(),
            chats: store.clone(),
            queue: queue.clone(),
            intake: Arc::new(intake::SqliteIntake::new(db, cache, queue.clone())),
            agents: store.clone(),
            logs: store.clone(),
            broadcaster: hub.clone(),
            callbacks: store.clone(),
            clock,
        };
        Ok(Self {
            ports,
            retention: store.clone(),
            store,
            queue,
            hub,
            recovered,
        })
    }
}

fn take_lock(database: &Path) -> Result<File, SqliteError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = File::create(&lock_path).map_err(|e| SqliteError::LockFile(lock_path.clone(), e))?;
    match FileExt::try_lock_exclusive(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(SqliteError::Locked(database.into())),
        Err(e) => Err(SqliteError::LockFile(lock_path, e)),
    }
}

/// The previous owner is dead (we hold the lock): its received messages are given back and its
/// leases expired.
fn recover(conn: &rusqlite::Connection) -> Result<Recovered, rusqlite::Error> {
    let messages = conn.execute(
        "UPDATE queue SET visible_at = 0, receipt = NULL WHERE receipt IS NOT NULL",
        [],
    )?;
    let running = conn.execute(
        "UPDATE runs SET lease_expires = 0 WHERE status = 'RUNNING'",
        [],
    )?;
    let queued: u64 = conn.query_row(
        "SELECT COUNT(*) FROM runs WHERE status = 'QUEUED'",
        [],
        |r| r.get(0),
    )?;
    Ok(Recovered {
        queued,
        running: running as u64,
        messages: messages as u64,
    })
}
