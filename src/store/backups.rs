//! The backups `warranty-gateway backup` makes (of SQLite; PostgreSQL's table stays empty): the
//! copy, and its record, read on either engine: the newest says how old the last backup is.

use std::path::Path;

use super::sql::{Arg, Row, stored_count};
use super::{StoreError, Tx, sqlite};
use crate::model::backup::Backup;
use crate::store::RestoreReport;

/// What `backup_database` copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    pub pages: i32,
    pub bytes: u64,
    /// Kept in the database's `backups` (false for a database at a schema from before them).
    pub recorded: bool,
}

/// Copies the SQLite database at `from` to the new file `to` while it serves (one read
/// snapshot: every batch committed before it began, none half), checked before it gets its
/// name; then keeps it in the database's `backups`, for how old the last one is.
pub fn backup_database(from: &Path, to: &Path) -> Result<BackupReport, StoreError> {
    let (copied, ()) = sqlite::copy_database(from, to, |_| Ok(()))?;
    let backup = Backup {
        finished_at: chrono::Utc::now(),
        // Where it is whatever folder the command ran in.
        file: std::path::absolute(to)
            .unwrap_or_else(|_| to.to_owned())
            .display()
            .to_string(),
        bytes: copied.bytes,
    };
    let recorded = sqlite::write_file_with(from, "backups", |tx| insert_backup(tx, &backup))?;
    Ok(BackupReport {
        pages: copied.pages,
        bytes: copied.bytes,
        recorded,
    })
}

/// Puts the backup `from` in the place of the SQLite database at `database` (no server may be
/// serving it): checked first, the database as it was kept beside it ([`RestoreReport`]).
///
/// The restored database knows of every backup the database as it was knew of (the one restored
/// from among them): the copies on disk are the same whichever database is served, and the
/// newest says how old the last backup is. Without them, a restore from yesterday's backup would
/// know only the backups before it, and the stale-backup alert would fire at once.
pub fn restore_database(from: &Path, database: &Path) -> Result<RestoreReport, StoreError> {
    sqlite::restore_database(from, database, "backups", every_backup, carry_backups)
}

/// Every backup the database knows, oldest first.
fn every_backup(tx: &Tx) -> Result<Vec<Backup>, StoreError> {
    tx.rows("SELECT finished_at, file, bytes FROM backups ORDER BY id", &[], backup)
}

/// Keeps each of `known`, oldest first, that the database does not know yet: how many it kept.
fn carry_backups(tx: &Tx, known: Vec<Backup>) -> Result<u64, StoreError> {
    let mut carried = 0;
    for b in &known {
        carried += tx.execute(
            "INSERT INTO backups (finished_at, file, bytes) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM backups WHERE finished_at = $1 AND file = $2)",
            &[
                Arg::Date(b.finished_at),
                Arg::Text(&b.file),
                Arg::Int(stored_count(b.bytes)?),
            ],
        )?;
    }
    Ok(carried)
}

/// How many backups the table keeps (one a day is nearly three years).
const KEPT: i64 = 1_000;

/// Adds a backup, and forgets those past the newest [`KEPT`].
fn insert_backup(tx: &Tx, backup: &Backup) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO backups (finished_at, file, bytes) VALUES ($1, $2, $3)",
        &[
            Arg::Date(backup.finished_at),
            Arg::Text(&backup.file),
            Arg::Int(stored_count(backup.bytes)?),
        ],
    )?;
    tx.execute(
        "DELETE FROM backups WHERE id <= (SELECT max(id) FROM backups) - $1",
        &[Arg::Int(KEPT)],
    )?;
    Ok(())
}

/// The newest backup, if any was made.
pub fn last_backup(tx: &Tx) -> Result<Option<Backup>, StoreError> {
    let newest = "SELECT finished_at, file, bytes FROM backups ORDER BY id DESC LIMIT 1";
    tx.row(newest, &[], backup)
}

fn backup(row: &Row) -> Result<Backup, StoreError> {
    Ok(Backup {
        finished_at: row.date("finished_at")?,
        file: row.text("file")?,
        bytes: row.count("bytes")?,
    })
}
