//! SQLite storage: the only module that knows SQL. One writer connection, used in `BEGIN
//! IMMEDIATE` transactions (a deferred one that upgrades would fail with SQLITE_BUSY at once);
//! a pool of read-only connections that, in WAL mode, never wait for it. Every function here
//! blocks: callers run it on a blocking thread, never on the async executor.

mod batches;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use batches::*;
pub use records::*;

/// The schema, applied at start-up.
pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 3;
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

/// Why the database cannot take a request now, when the error is a storage fault rather than a
/// bug: the request may succeed later, unchanged (a full disk, a busy or unreadable database).
/// Clients get a 503 to retry, never a 500.
pub fn storage_fault(e: &rusqlite::Error) -> Option<&'static str> {
    use rusqlite::ErrorCode::*;
    Some(match e.sqlite_error_code()? {
        DiskFull => "the disk holding the database is full",
        SystemIoFailure => "the database file cannot be read or written (an I/O error)",
        DatabaseBusy | DatabaseLocked => "the database is busy",
        CannotOpen | PermissionDenied => "the database file cannot be opened",
        ReadOnly => "the database file cannot be written (read-only)",
        OutOfMemory => "the database is out of memory",
        FileLockingProtocolFailed => "the database file cannot be locked",
        NoLargeFileSupport | TooBig => "the database file cannot grow",
        _ => return None,
    })
}

/// An error that may be the database's: lets the store notice storage faults whatever error
/// type the work it runs returns.
pub trait DatabaseError {
    fn database_error(&self) -> Option<&rusqlite::Error>;
}

impl DatabaseError for rusqlite::Error {
    fn database_error(&self) -> Option<&rusqlite::Error> {
        Some(self)
    }
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
    /// Why the last write failed, while the database cannot take writes (a full disk): the
    /// health check says so until a write commits again.
    write_fault: Mutex<Option<&'static str>>,
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
            write_fault: Mutex::new(None),
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
        E: From<rusqlite::Error> + DatabaseError,
    {
        let mut conn = lock(&self.writer);
        let written = Self::transaction(&mut conn, f);
        self.note_write(written.as_ref().err().and_then(|e| e.database_error()));
        written
    }

    fn transaction<R, E>(conn: &mut Connection, f: impl FnOnce(&Transaction) -> Result<R, E>) -> Result<R, E>
    where
        E: From<rusqlite::Error>,
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Remembers whether the database took the last write (`failed` is its error, if any).
    fn note_write(&self, failed: Option<&rusqlite::Error>) {
        let fault = match failed {
            None => None,
            Some(e) => match storage_fault(e) {
                Some(reason) => Some(reason),
                // A bug in one batch says nothing of the database.
                None => return,
            },
        };
        *lock(&self.write_fault) = fault;
    }

    /// Whether the database can be read and take writes now; else why not. The write is real
    /// (a one-row table updated and committed durably), since a full disk only shows when a
    /// write needs room. When a batch holds the writer, its outcome stands in for the probe,
    /// so the check never waits behind a big batch.
    pub fn health(&self) -> Result<(), &'static str> {
        if let Err(e) = self.read(|tx| ping(tx)) {
            tracing::warn!(error = %e, "health check: the database cannot be read");
            return Err(storage_fault(&e).unwrap_or("the database cannot be read"));
        }
        let probe = |conn: &mut Connection| {
            Self::transaction(conn, |tx| {
                tx.prepare_cached("UPDATE health_probe SET checks = checks + 1 WHERE id = 1")?
                    .execute([])
                    .map(drop)
            })
        };
        let probed = match self.writer.try_lock() {
            Ok(mut conn) => probe(&mut conn),
            Err(TryLockError::Poisoned(p)) => probe(&mut p.into_inner()),
            Err(TryLockError::WouldBlock) => return lock(&self.write_fault).map_or(Ok(()), Err),
        };
        if let Err(e) = &probed {
            tracing::warn!(error = %e, "health check: the database cannot take writes");
        }
        self.note_write(probed.as_ref().err());
        match probed {
            Ok(()) => Ok(()),
            Err(e) => Err(storage_fault(&e).unwrap_or("the database cannot take writes")),
        }
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
