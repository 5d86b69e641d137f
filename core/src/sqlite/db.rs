//! The database handle: one writer thread that commits in groups, and a few reader connections.
//!
//! SQLite takes one writer at a time, and a commit costs the same for one statement as for a
//! hundred, so every write is a job sent to one thread: it takes every job waiting on its
//! channel (up to [`GROUP_MAX`]), runs each in its own savepoint inside one transaction, commits
//! once, and only then answers each job. A job's answer therefore means "committed": with WAL
//! and `synchronous = NORMAL` that survives a crash of the process (not of the machine's power,
//! which would need `FULL`). Reads run on reader connections in `spawn_blocking`; WAL lets them
//! proceed while the writer writes, and each read sees every write that was answered before it
//! started.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::SqliteError;
use super::schema;

/// Jobs committed together at most; bounds the latency one group adds to its first job.
const GROUP_MAX: usize = 512;
/// Reader connections. The machine this serves has a few cores; more readers than cores only
/// contend.
const READERS: usize = 2;

/// A write job: runs in the writer's transaction and returns how to answer once committed.
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Result<(), Arc<rusqlite::Error>>) + Send>;

pub(crate) struct Db {
    writer: Mutex<mpsc::Sender<Job>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The checkpoint thread runs while this lives.
    _alive: Arc<()>,
}

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

impl Db {
    /// Opens (creating) the file, runs the migrations, then `prepare` once on the writer
    /// connection before any job (the start-up recovery), and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        prepare: impl FnOnce(&Connection) -> Result<(), SqliteError>,
    ) -> Result<Self, SqliteError> {
        let mut conn = open_connection(path).map_err(SqliteError::Sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        schema::migrate(&mut conn)?;
        prepare(&conn)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SqliteError::Sql)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(conn, rx))
            .map_err(SqliteError::Thread)?;
        let alive = Arc::new(());
        let (weak, checkpoint_path) = (Arc::downgrade(&alive), path.to_owned());
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_path, weak))
            .map_err(SqliteError::Thread)?;
        Ok(Self {
            writer: Mutex::new(tx),
            readers,
            next_reader: AtomicUsize::new(0),
            _alive: alive,
        })
    }

    /// Runs `f` in the writer's transaction (in a savepoint of its own: its error undoes only
    /// its own statements) and answers once the transaction committed.
    pub(crate) async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, SqliteError> + Send + 'static,
    ) -> Result<R, SqliteError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, f);
            Box::new(move |committed| {
                let answer = match (outcome, committed) {
                    (Ok(r), Ok(())) => Ok(r),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(SqliteError::Commit(e)),
                };
                let _ = tx.send(answer);
            })
        });
        self.writer
            .lock()
            .unwrap()
            .send(job)
            .map_err(|_| SqliteError::WriterGone)?;
        rx.await.map_err(|_| SqliteError::WriterGone)?
    }

    /// Runs `f` on a reader connection, off the async threads.
    pub(crate) async fn read<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<R, SqliteError> + Send + 'static,
    ) -> Result<R, SqliteError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let i = db.next_reader.fetch_add(1, Ordering::Relaxed) % db.readers.len();
            let conn = db.readers[i].lock().unwrap();
            f(&conn)
        })
        .await
        .map_err(|_| SqliteError::WriterGone)?
    }
}

fn in_savepoint<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<R, SqliteError>,
) -> Result<R, SqliteError> {
    // Cached: parsing these two per job showed in the writer's profile.
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(conn) {
        Ok(r) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(r)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")
                .map_err(SqliteError::Sql)?;
            Err(e)
        }
    }
}

/// Moves the WAL into the database once a second, on a connection of its own: the writer
/// does not checkpoint (`wal_autocheckpoint = 0`), which keeps the database file's writes and
/// their fsync out of the commits that webhooks wait for. PASSIVE never blocks the writer; the
/// thread ends once the store is dropped.
fn checkpoint_loop(path: std::path::PathBuf, alive: std::sync::Weak<()>) {
    let Ok(conn) = open_connection(&path) else {
        return;
    };
    while alive.upgrade().is_some() {
        std::thread::sleep(std::time::Duration::from_secs(1));
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "sqlite: checkpoint failed");
        }
    }
}

/// Until every sender is gone: one transaction per group of waiting jobs.
fn write_loop(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite: could not begin a transaction");
            // Not run: dropping the job drops its answer channel, so its caller gets an error.
            drop(first);
            continue;
        }
        let mut replies = vec![first(&conn)];
        while replies.len() < GROUP_MAX {
            match jobs.try_recv() {
                Ok(job) => replies.push(job(&conn)),
                Err(_) => break,
            }
        }
        let committed = conn.execute_batch("COMMIT").map_err(Arc::new);
        if let Err(e) = &committed {
            tracing::error!(error = %e, jobs = replies.len(), "sqlite: commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
}
