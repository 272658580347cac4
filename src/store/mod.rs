//! SQLite storage: the only module that knows SQL. One writer connection, used in `BEGIN
//! IMMEDIATE` transactions (a deferred one that upgrades would fail with SQLITE_BUSY at once);
//! a pool of read-only connections that, in WAL mode, never wait for it. Every function here
//! blocks: callers run it on a blocking thread, never on the async executor.

mod batches;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use batches::*;
pub use records::*;

/// The schema, applied at start-up.
pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error(
        "the database has schema version {found}, newer than this build's {SCHEMA_VERSION}; run a newer warranty-gateway"
    )]
    SchemaTooNew { found: i64 },
}

/// Live data, or a partner's `_test` data: never visible to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenant {
    Live,
    Test,
}

impl Tenant {
    pub fn as_str(self) -> &'static str {
        match self {
            Tenant::Live => "live",
            Tenant::Test => "test",
        }
    }
}

/// Whose data a call reads or writes: every query is filtered by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub partner_id: i64,
    pub tenant: Tenant,
}

pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock rolled its transaction back on unwind: the value is sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens (creating if needed) the database and applies the schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        apply_schema(&mut writer)?;
        Ok(Store {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies everything in the WAL into the database file and empties the WAL: at shutdown,
    /// so the file stands on its own (for a backup copy, say).
    pub fn checkpoint(&self) -> rusqlite::Result<()> {
        let conn = lock(&self.writer);
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it durably (synchronous=FULL);
    /// an error from `f` rolls everything back.
    pub fn write<R, E>(&self, f: impl FnOnce(&Transaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a read-only connection, in one read transaction (one consistent snapshot).
    pub fn read<R>(&self, f: impl FnOnce(&Transaction) -> rusqlite::Result<R>) -> rusqlite::Result<R> {
        let mut conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = {
            let tx = conn.transaction()?;
            let out = f(&tx);
            tx.finish()?;
            out
        };
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        Ok(conn)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn apply_schema(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: version });
    }
    if version < SCHEMA_VERSION {
        tx.execute_batch(SCHEMA)?;
    }
    tx.commit()?;
    Ok(())
}
