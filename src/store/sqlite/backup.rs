//! The database as a file: an online copy (checked), a write to a file no store serves, a
//! restore from a copy (the database as it was kept beside it), and the lock that tells a
//! restore a server is serving the file.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::{StoreError, configure, has_table, make_folder, schema_of};
use crate::files::{self, beside, give_to_folder_owner};
use crate::store::{Engine, SchemaState, Tx};

/// What a copy of the database holds: its pages, and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct Copied {
    pub pages: i32,
    pub bytes: u64,
}

/// What `restore_database` put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub bytes: u64,
    /// The backup's schema: what serve migrates it to at start, if anything.
    pub schema: SchemaState,
    /// Where the database as it was before the restore is kept (none when there was none).
    pub kept: Option<PathBuf>,
    /// How many rows of the carried table the restored database took from the database as it
    /// was; `None` when either had no such table (or there was no database).
    pub carried: Option<u64>,
}

/// Copies the database at `from` to the new file `to` while it serves (SQLite's online backup,
/// in one step: one read snapshot, so the copy holds every batch committed before it began and
/// none half), checks the copy's integrity, and only then gives it its name. Refuses a `to`
/// that exists.
///
/// `finish` runs on the copy, whole, before it is checked (a restore's records of backups).
pub(in crate::store) fn copy_database<T>(
    from: &Path,
    to: &Path,
    finish: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<(Copied, T), StoreError> {
    if to.exists() {
        return Err(StoreError::Setup(format!(
            "{} exists already; back up to a new file",
            to.display()
        )));
    }
    if !from.exists() {
        return Err(StoreError::Setup(format!("there is no database at {}", from.display())));
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)?;
    configure(&source)?;
    let partial = beside(to, ".partial");
    let copied = (|| -> Result<(Copied, T), StoreError> {
        // A copy left by a backup that was killed is no copy: start again.
        let _ = std::fs::remove_file(&partial);
        files::create_private(&partial)
            .map_err(|e| StoreError::Setup(format!("cannot create {}: {e}", partial.display())))?;
        let mut target = Connection::open(&partial)?;
        let pages = {
            use rusqlite::backup::{Backup, StepResult};
            let backup = Backup::new(&source, &mut target)?;
            // Every page in one step (-1): one read snapshot, never restarted by the writer.
            let mut tries = 0;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::Busy | StepResult::Locked if tries < 100 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    other => {
                        return Err(StoreError::Database(
                            format!("the copy did not finish: {other:?}").into(),
                        ));
                    }
                }
            }
            backup.progress().pagecount
        };
        let finished = finish(&target)?;
        let check: String = target.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Database(
                format!("the copy failed its integrity check: {check}").into(),
            ));
        }
        // The copy stands alone: no WAL beside it.
        target.pragma_update(None, "journal_mode", "DELETE")?;
        drop(target);
        let bytes = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        Ok((Copied { pages, bytes }, finished))
    })();
    match copied {
        Ok(report) => {
            files::rename_durably(&partial, to)
                .map_err(|e| StoreError::Setup(format!("naming the copy {}: {e}", to.display())))?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Runs `f` in one write transaction on the database file at `path` (not a served store's),
/// when it has `table`: false, and nothing run, when it has not (its schema is from before the
/// table: a build older than this one serves it).
pub(in crate::store) fn write_file_with(
    path: &Path,
    table: &str,
    f: impl FnOnce(&Tx) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has = has_table(&tx, table)?;
    if has {
        f(&Tx(Engine::Sqlite(&tx)))?;
    }
    tx.commit()?;
    Ok(has)
}

/// Locks the file beside the database (`-lock`, made if need be) that tells a server and a
/// restore of each other: a server holds it shared while it serves (several may), a restore
/// exclusively while it swaps the file. An flock, apart from SQLite's own locks. Held until
/// the answer is dropped.
pub(super) fn lock_in_use(database: &Path, exclusive: bool) -> Result<File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = beside(database, "-lock");
    let cannot = |e: std::io::Error| StoreError::Setup(format!("cannot lock {}: {e}", path.display()));
    // Private as all beside the database is; made by root (a restore), it is the service's.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(cannot)?;
    give_to_folder_owner(&path);
    let taken = match exclusive {
        true => file.try_lock(),
        false => file.try_lock_shared(),
    };
    match taken {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) if exclusive => Err(StoreError::Setup(format!(
            "a server is serving {} (it holds {}): stop it first",
            database.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Setup(format!(
            "{} is being restored (`warranty-gateway restore` holds {}): start the server when it has finished",
            database.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
    }
}

/// What a restore refuses to put in place: a file SQLite cannot read whole, one that is no
/// gateway database, or one a newer build migrated. Answers its schema.
fn restorable(from: &Path) -> Result<SchemaState, StoreError> {
    let unusable = |why: String| StoreError::Setup(format!("{} cannot be restored: {why}", from.display()));
    if !from.is_file() {
        return Err(unusable("there is no such file".into()));
    }
    let mut conn =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| unusable(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| unusable(format!("it is not a readable SQLite database ({e})")))?;
    if check != "ok" {
        return Err(unusable(format!("it fails SQLite's integrity check: {check}")));
    }
    if !has_table(&conn, "registrations")? {
        return Err(unusable(
            "it is no warranty-gateway database (it has no registrations table)".into(),
        ));
    }
    schema_of(&mut conn)
}

/// Puts the backup `from` in the place of the database at `database`, which no server may be
/// serving (see [`lock_in_use`]): the backup is checked first (readable whole, a gateway
/// database, a schema this build serves); the database as it was, its WAL folded in, is kept
/// beside it (`.before-restore-<time>`) and put back if the copy fails; the copy is checked, and
/// private to the owner of the database's folder. What `read` reads of the database as it was
/// (when it has the table `carried`), `carry` writes into the copy (when it has it too) before
/// it is checked.
pub(in crate::store) fn restore_database<K>(
    from: &Path,
    database: &Path,
    carried: &str,
    read: impl FnOnce(&Tx) -> Result<K, StoreError>,
    carry: impl FnOnce(&Tx, K) -> Result<u64, StoreError>,
) -> Result<RestoreReport, StoreError> {
    if let (Ok(a), Ok(b)) = (from.canonicalize(), database.canonicalize())
        && a == b
    {
        return Err(StoreError::Setup(format!(
            "{} is the database itself: restore from a backup of it",
            from.display()
        )));
    }
    let schema = restorable(from)?;
    make_folder(database)?;
    let _restoring = lock_in_use(database, true)?;
    let (kept, known) = match database.exists() {
        true => {
            let (kept, known) = set_aside(database, chrono::Utc::now(), carried, read)?;
            (Some(kept), known)
        }
        false => (None, None),
    };
    let finish = |copy: &Connection| match known {
        Some(known) if has_table(copy, carried)? => carry(&Tx(Engine::Sqlite(copy)), known).map(Some),
        _ => Ok(None),
    };
    match copy_database(from, database, finish) {
        Ok((copied, carried)) => {
            give_to_folder_owner(database);
            Ok(RestoreReport {
                bytes: copied.bytes,
                schema,
                kept,
                carried,
            })
        }
        Err(e) => {
            if let Some(kept) = &kept {
                let _ = files::rename_durably(kept, database);
            }
            Err(e)
        }
    }
}

/// Moves the database aside whole: its WAL folded into the file first (a checkpoint), so the
/// file kept stands alone; its `-wal` and `-shm` go, being the file's no longer. Answers where
/// it is kept, and what `read` read of it first, when it has the table `carried`.
fn set_aside<K>(
    database: &Path,
    now: chrono::DateTime<chrono::Utc>,
    carried: &str,
    read: impl FnOnce(&Tx) -> Result<K, StoreError>,
) -> Result<(PathBuf, Option<K>), StoreError> {
    let known = {
        let conn = Connection::open_with_flags(
            database,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Setup(format!(
                "{} is in use (its WAL cannot be folded in): stop what has it open first",
                database.display()
            )));
        }
        match has_table(&conn, carried)? {
            true => Some(read(&Tx(Engine::Sqlite(&conn)))?),
            false => None,
        }
    };
    let at = now.format("%Y%m%dT%H%M%SZ");
    let kept = beside(database, &format!(".before-restore-{at}"));
    // Never over what an earlier restore kept (two in one second).
    if kept.exists() {
        return Err(StoreError::Setup(format!(
            "{} exists already: try again in a second",
            kept.display()
        )));
    }
    files::rename_durably(database, &kept)
        .map_err(|e| StoreError::Setup(format!("cannot move {} aside: {e}", database.display())))?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(beside(database, suffix));
    }
    Ok((kept, known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_set_aside_is_whole_and_never_put_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("gateway.sqlite3");
        let conn = Connection::open(&database).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z")
            .unwrap()
            .to_utc();
        let earlier = dir.path().join("gateway.sqlite3.before-restore-20261207T020000Z");
        std::fs::write(&earlier, "what the restore a moment ago kept").unwrap();
        let read = |tx: &Tx| tx.rows("SELECT x FROM t ORDER BY x", &[], |row| row.int("x"));
        let refused = set_aside(&database, at, "t", read).unwrap_err().to_string();
        assert!(refused.contains("exists already"), "{refused}");
        assert_eq!(
            std::fs::read_to_string(&earlier).unwrap(),
            "what the restore a moment ago kept"
        );

        // A second later: the rows still in the WAL are read, and in the file kept.
        let (kept, read) = set_aside(&database, at + chrono::TimeDelta::seconds(1), "t", read).unwrap();
        assert_eq!(read, Some(vec![1, 2]));
        drop(conn);
        assert!(!database.exists());
        let rows: i64 = Connection::open_with_flags(&kept, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }
}
