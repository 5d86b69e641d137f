//! The schema, as a list of migrations applied in order at open. `PRAGMA user_version` counts
//! the ones applied; a file from a newer binary (a higher count) is refused rather than
//! misread. A migration is appended, never edited, once released.
//!
//! Times are Unix nanoseconds (`INTEGER`), so they read back to the same instant. A run's record
//! is its API representation as JSON (`doc`) without the payload, which has a column of its
//! own so that the frequent updates (heartbeats) do not rewrite it; the columns beside `doc`
//! are what queries select on, and the bookkeeping the API does not show.

use rusqlite::Connection;

use super::SqliteError;

const MIGRATIONS: &[&str] = &[
    // 1: every port of the single-machine store.
    "
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        version INTEGER NOT NULL,
        lease_owner TEXT,
        lease_expires INTEGER,
        cancel_requested INTEGER NOT NULL,
        finished_at INTEGER,
        doc TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX runs_by_agent ON runs (agent_id, id);
    CREATE INDEX runs_by_agent_status ON runs (agent_id, status, id);
    CREATE INDEX runs_by_lease ON runs (lease_expires) WHERE status = 'RUNNING';
    CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

    CREATE TABLE dedup (
        agent_id TEXT NOT NULL,
        key TEXT NOT NULL,
        run_id TEXT NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (agent_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX dedup_by_expiry ON dedup (expires);

    CREATE TABLE chats (
        chat_id TEXT PRIMARY KEY,
        title TEXT NOT NULL
    );

    CREATE TABLE agents (
        agent_id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        crew_id TEXT NOT NULL,
        sealed BLOB NOT NULL
    );

    CREATE TABLE logs (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        agent_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX logs_by_agent ON logs (agent_id, run_id, seq);

    CREATE TABLE queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        receive_count INTEGER NOT NULL,
        visible_at INTEGER NOT NULL,
        receipt TEXT UNIQUE
    );
    CREATE INDEX queue_by_visibility ON queue (visible_at, seq);

    CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        sealed BLOB NOT NULL
    );
    ",
    // 2: the outbox of completion callbacks (docs/callbacks.md); one per run at most.
    "
    CREATE TABLE callbacks (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        next_attempt INTEGER,
        attempts INTEGER NOT NULL,
        doc TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX callbacks_due ON callbacks (next_attempt) WHERE state = 'pending';
    ",
];

/// Applies the migrations the file has not seen, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    let applied: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(SqliteError::Sql)?;
    if applied > MIGRATIONS.len() {
        return Err(SqliteError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(SqliteError::Sql)?;
        tx.execute_batch(sql).map_err(SqliteError::Sql)?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(SqliteError::Sql)?;
        tx.commit().map_err(SqliteError::Sql)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_a_newer_file_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(SqliteError::NewerSchema { .. })
        ));
    }
}
