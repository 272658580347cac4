//! SQLite: the embedded engine. One writer connection, used in `BEGIN
//! IMMEDIATE` transactions (a deferred one that upgrades would fail with SQLITE_BUSY at once);
//! a pool of read-only connections that, in WAL mode, never wait for it. Every function here
//! blocks: callers run it on a blocking thread, never on the async executor.

mod backup;
mod batches;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use backup::RestoreReport;
pub(super) use backup::restore_database;
pub(super) use backup::{copy_database, write_file_with};
pub(super) use batches::*;
pub(super) use records::*;

use super::{Applied, Engine, StoreError, StoreFailure, Tx, run_migrations};
use crate::files;
use crate::telemetry::escaped;
/// Before migrations, the schema version was `PRAGMA user_version` (1 to 3); the migrations
/// upgrade such a database in place.
const LAST_UNMIGRATED_VERSION: i64 = 3;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 16;

/// How much of the database file a read connection maps into memory. A lookup then reads the
/// file's pages from the OS page cache without a `pread` system call each; SQLite drops a
/// reader's own page cache whenever anything was written, so those calls were most of a
/// lookup's page reads. Only reads are mapped (SQLite writes through the writer's file handle,
/// as before); pages still in the WAL are read from it as before.
const READER_MMAP_BYTES: i64 = 1 << 30;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match storage_fault(&e) {
            Some(reason) => StoreError::Unavailable {
                reason,
                cause: Box::new(e),
            },
            None => StoreError::Database(Box::new(e)),
        }
    }
}

/// The newest migration this build knows.
pub(super) fn latest_migration() -> Applied {
    let runner = embedded::migrations::runner();
    let last = runner
        .get_migrations()
        .iter()
        .max_by_key(|m| m.version())
        .expect("there are migrations");
    Applied {
        version: last.version(),
        name: last.name().to_owned(),
    }
}

/// Brings the database up to this build's schema: the numbered migrations of
/// migrations/sqlite/, each once, all in one transaction. A database a newer build migrated is
/// refused rather than guessed at. Several processes opening one file at once: the one that
/// waits retries.
pub(super) fn migrate(conn: &mut Connection) -> Result<Vec<Applied>, StoreError> {
    let legacy: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if legacy > LAST_UNMIGRATED_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: format!("schema version {legacy}"),
        });
    }
    let runner = embedded::migrations::runner().set_grouped(true);
    run_migrations(|| runner.run(conn), migration_busy, |_| Duration::from_millis(100))
}

/// [`super::schema_state`] of a database file: opened for writing (as serve opens it, so a file
/// it could not write is found out) but changed by nothing; a file that does not exist is not
/// made.
pub(super) fn schema_state(path: &Path) -> Result<super::SchemaState, StoreError> {
    match open_existing(path)? {
        Some(mut conn) => schema_of(&mut conn),
        None => super::schema_against(embedded::migrations::runner().get_migrations(), &[], None),
    }
}

/// The database file as serve opens it (so a file it could not write is found out), or `None`
/// when there is none: never made here.
fn open_existing(path: &Path) -> Result<Option<Connection>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(Some(conn))
}

/// Runs the read `f` on the database file at `path`, without migrating it, when the file
/// exists and has `table`: `None`, and nothing run, when not (no file yet, or a schema from
/// before the table).
pub(super) fn read_file_with<R>(
    path: &Path,
    table: &str,
    f: impl FnOnce(&Tx) -> Result<R, StoreError>,
) -> Result<Option<R>, StoreError> {
    match open_existing(path)? {
        Some(conn) if has_table(&conn, table)? => f(&Tx(Engine::Sqlite(&conn))).map(Some),
        _ => Ok(None),
    }
}

/// [`super::schema_state`] of an open database.
fn schema_of(conn: &mut Connection) -> Result<super::SchemaState, StoreError> {
    let runner = embedded::migrations::runner();
    let legacy: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if legacy > LAST_UNMIGRATED_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: format!("schema version {legacy}"),
        });
    }
    let applied = match has_table(conn, super::HISTORY_TABLE)? {
        true => runner.get_applied_migrations(conn).map_err(StoreError::Migration)?,
        false => Vec::new(),
    };
    let needs = match has_table(conn, super::COMPATIBILITY_TABLE)? {
        true => Some(conn.query_row(super::NEEDS_MIGRATION, [], |r| r.get(0))?),
        false => None,
    };
    super::schema_against(runner.get_migrations(), &applied, needs)
}

/// Whether the database has a table of this name.
fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

/// Whether a migration failed only because another process held the database.
fn migration_busy(e: &refinery::Error) -> bool {
    super::cause::<rusqlite::Error>(e).is_some_and(|sqlite| {
        matches!(
            sqlite.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    })
}

/// Why the database cannot take a request now, when the error is a storage fault rather than a
/// bug: the request may succeed later, unchanged (a full disk, a busy or unreadable database).
/// Clients get a 503 to retry, never a 500.
fn storage_fault(e: &rusqlite::Error) -> Option<&'static str> {
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

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Why the last write failed, while the database cannot take writes (a full disk): the
    /// health check says so until a write commits again.
    write_fault: Mutex<Option<&'static str>>,
    /// The in-use lock, held shared while the store is open: a restore waits for no server.
    _serving: std::fs::File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock rolled its transaction back on unwind: the value is sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the database and migrates it to this build's schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut writer = open_writer(path)?;
        let serving = backup::lock_in_use(path, false)?;
        crate::store::log_migrated(&migrate_to_serve(&mut writer)?);
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            write_fault: Mutex::new(None),
            _serving: serving,
        })
    }

    /// The database file and its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                std::fs::metadata(files::beside(&self.path, suffix))
                    .ok()
                    .map(|m| m.len())
            })
            .sum()
    }

    /// Copies everything in the WAL into the database file and empties the WAL: at shutdown,
    /// so the file stands on its own (for a backup copy, say).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        Ok(conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it durably (synchronous=FULL);
    /// an error from `f` rolls everything back.
    /// (One writer: nothing can be in the way, so `f` runs once.)
    pub fn write<R, E>(&self, f: impl FnOnce(&Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError> + StoreFailure,
    {
        let mut conn = lock(&self.writer);
        let written = Self::transaction(&mut conn, f);
        match written.as_ref().map_err(|e| e.store_error()) {
            Ok(_) => self.note_write(None),
            Err(Some(e)) => self.note_write(Some(e)),
            // The work's own error (a body found unusable midway) says nothing of the database
            // either way.
            Err(None) => {}
        }
        written
    }

    fn transaction<R, E>(conn: &mut Connection, f: impl FnOnce(&Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let needs = tx
            .prepare_cached(super::NEEDS_MIGRATION)
            .and_then(|mut read| read.query_row([], |r| r.get::<_, i64>(0)).optional())
            .map_err(StoreError::from)?;
        super::may_write(needs)?;
        let out = f(&Tx(Engine::Sqlite(&tx)))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Remembers whether the database took the last write (`failed` is its error, if any).
    fn note_write(&self, failed: Option<&StoreError>) {
        let fault = match failed {
            None => None,
            Some(e) => match e.unavailable() {
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
        let needs = self.read(super::needs_now).map_err(|e| {
            tracing::warn!(error = ?escaped(&e), "health check: the database cannot be read");
            e.unavailable().unwrap_or("the database cannot be read")
        })?;
        super::may_serve(needs)?;
        let probe = |conn: &mut Connection| -> Result<(), StoreError> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached("UPDATE health_probe SET checks = checks + 1 WHERE id = 1")?
                .execute([])?;
            Ok(tx.commit()?)
        };
        let probed = match self.writer.try_lock() {
            Ok(mut conn) => probe(&mut conn),
            Err(TryLockError::Poisoned(p)) => probe(&mut p.into_inner()),
            Err(TryLockError::WouldBlock) => return lock(&self.write_fault).map_or(Ok(()), Err),
        };
        if let Err(e) = &probed {
            tracing::warn!(error = ?escaped(&e), "health check: the database cannot take writes");
        }
        self.note_write(probed.as_ref().err());
        match probed {
            Ok(()) => Ok(()),
            Err(e) => Err(e.unavailable().unwrap_or("the database cannot take writes")),
        }
    }

    /// Runs `f` on a read-only connection, in one read transaction (one consistent snapshot).
    pub fn read<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.with_reader(|conn| {
            // BEGIN and COMMIT from the statement cache: `Connection::transaction` parses both
            // again for every lookup. A read-only transaction commits whether `f` failed or not.
            conn.prepare_cached("BEGIN")?.execute([])?;
            let out = f(&Tx(Engine::Sqlite(conn)));
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(out)
        })?
    }

    /// Runs `f`, a read of exactly one statement, on a read-only connection without BEGIN and
    /// COMMIT: the statement is its own read transaction (one snapshot). A second statement
    /// would see a snapshot of its own; PostgreSQL's `read_one` refuses one, and the suite runs
    /// every caller on both engines.
    pub fn read_one<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.with_reader(|conn| Ok(f(&Tx(Engine::Sqlite(conn)))))?
    }

    /// Runs `f` on an idle read-only connection (or a new one), and keeps the connection for the
    /// next read unless `f` failed to end its transaction: then it is dropped, and its
    /// transaction with it.
    fn with_reader<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn)?;
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        Ok(out)
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
        Ok(conn)
    }
}

/// Makes the database file private if it is new; an existing one that others may read loses
/// those bits (a group the operator gave it keeps its own).
fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |cause| StoreError::Setup(format!("cannot make {} private: {cause}", path.display()));
    match std::fs::metadata(path) {
        // SQLite gives a database's WAL, shared-memory and journal files the database file's
        // permissions, so those are private too.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => files::create_private(path).map(drop).map_err(failed),
        Err(e) => Err(failed(e)),
        Ok(meta) if meta.permissions().mode() & 0o007 != 0 => {
            let mode = meta.permissions().mode() & 0o770;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(failed)?;
            tracing::warn!(
                database = %path.display(),
                mode = format!("{mode:o}"),
                "the database file was readable by other users; it no longer is"
            );
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// Makes the folder of the database file at `path` if need be (with its parents), its owner's
/// and its group's only.
fn make_folder(path: &Path) -> Result<(), StoreError> {
    let dir = files::folder_of(path);
    files::make_private_folder(dir).map_err(|cause| StoreError::Folder {
        path: dir.to_owned(),
        cause,
    })
}

/// The read-write connection to a database file (made, with its folder, if need be, private
/// to its owner), in WAL mode.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    make_folder(path)?;
    make_private(path)?;
    let writer = Connection::open(path)?;
    configure(&writer)?;
    writer.pragma_update(None, "journal_mode", "WAL")?;
    Ok(writer)
}

/// Migrates a database file (made if need be) without serving it: `warranty-gateway migrate`,
/// for deploy pipelines. Answers what it did.
pub fn migrate_database(path: &Path) -> Result<super::Migrated, StoreError> {
    migrate_to_serve(&mut open_writer(path)?)
}

/// [`super::needs_migration`]: read from a database in memory that this build migrated.
pub(super) fn needs_migration() -> Result<i32, StoreError> {
    let mut conn = Connection::open_in_memory()?;
    migrate(&mut conn)?;
    Ok(conn.query_row(super::NEEDS_MIGRATION, [], |r| r.get(0))?)
}

/// [`migrate`], or a database a newer build migrated that its schema lets this build serve.
fn migrate_to_serve(conn: &mut Connection) -> Result<super::Migrated, StoreError> {
    let ran = migrate(conn);
    super::migrated_or_newer(ran, || schema_of(conn))
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

#[cfg(test)]
mod migration_tests {
    use super::*;
    use crate::store::SCHEMA;

    /// Another process holding the database, found under the migration runner's error, is
    /// waited for; any other failure is not.
    #[test]
    fn a_migration_waits_only_for_a_busy_database() {
        use refinery_core::error::WrapMigrationError;
        let failed = |code| {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            Err::<(), _>(e).migration_err("applying V1__schema", None).unwrap_err()
        };
        assert!(migration_busy(&failed(rusqlite::ffi::SQLITE_BUSY)));
        assert!(migration_busy(&failed(rusqlite::ffi::SQLITE_LOCKED)));
        assert!(!migration_busy(&failed(rusqlite::ffi::SQLITE_CONSTRAINT)));
        assert!(!migration_busy(&failed(rusqlite::ffi::SQLITE_FULL)));
    }

    /// Every table and index as SQLite keeps it, comments and spacing aside.
    fn describe(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' \
                 AND name != 'refinery_schema_history' ORDER BY type, name",
            )
            .unwrap();
        stmt.query_map([], |row| {
            let sql: Option<String> = row.get(2)?;
            let sql = sql
                .unwrap_or_default()
                .lines()
                .map(|l| l.split("--").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ");
            let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            Ok(format!(
                "{} {}: {sql}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn schema_sql_is_what_the_migrations_make() {
        let mut migrated = Connection::open_in_memory().unwrap();
        let applied = migrate(&mut migrated).unwrap();
        assert_eq!(applied.last(), Some(&latest_migration()));
        let from_schema = Connection::open_in_memory().unwrap();
        from_schema.execute_batch(SCHEMA).unwrap();
        assert_eq!(describe(&migrated), describe(&from_schema));
        // Once applied, nothing more to do.
        assert_eq!(migrate(&mut migrated).unwrap(), vec![]);
    }

    #[test]
    fn a_database_from_before_migrations_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            // What the builds before migrations made: the version-2 schema, user_version 2.
            let conn = Connection::open(&path).unwrap();
            let v2: String = SCHEMA.split("-- One row the health check").next().unwrap().to_owned();
            conn.execute_batch(&v2).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO batches (partner_id, tenant, received_at, status, duration_ms, body_bytes, \
                 registrations_accepted, registrations_rejected, sales_accepted, sales_rejected, \
                 claims_accepted, claims_rejected, cancellations_accepted, cancellations_rejected) \
                 VALUES (1, 'live', '2026-01-01T00:00:00.000000Z', 200, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let count: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        assert_eq!(store.health(), Ok(()));
    }

    #[test]
    fn a_newer_builds_database_is_served_only_when_its_schema_allows() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert!(err.to_string().contains("V99__from_the_future"), "{err}");
        // Served all the same while its migrations leave older builds able to (an added table):
        // nothing applied, the newer one said.
        let future = Applied {
            version: 99,
            name: "from_the_future".into(),
        };
        let migrated = migrate_to_serve(&mut conn).unwrap();
        assert_eq!((migrated.applied, migrated.newer), (vec![], vec![future.clone()]));
        let state = schema_of(&mut conn).unwrap();
        assert_eq!((state.pending, state.newer), (vec![], vec![future]));
        // Refused once one raises the build it needs past this one.
        conn.execute("UPDATE schema_compatibility SET needs_migration = 99", [])
            .unwrap();
        for err in [
            migrate_to_serve(&mut conn).unwrap_err(),
            schema_of(&mut conn).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
            assert!(
                err.to_string().contains(
                    "V99__from_the_future is unknown to this build, and only builds that know V99 may serve it"
                ),
                "{err}"
            );
        }
        // A newer build's history without one of this build's migrations is no line of history.
        conn.execute("UPDATE schema_compatibility SET needs_migration = 16", [])
            .unwrap();
        conn.execute("DELETE FROM refinery_schema_history WHERE version = 16", [])
            .unwrap();
        let err = migrate_to_serve(&mut conn).unwrap_err();
        assert!(
            err.to_string()
                .contains("and it lacks this build's V16__schema_compatibility"),
            "{err}"
        );

        let mut legacy = Connection::open_in_memory().unwrap();
        legacy.pragma_update(None, "user_version", 4).unwrap();
        assert!(matches!(migrate(&mut legacy), Err(StoreError::SchemaTooNew { .. })));
    }
}
