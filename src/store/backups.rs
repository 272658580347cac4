//! The backups `warranty-gateway backup` made (of SQLite; PostgreSQL's table stays empty), on
//! either engine: the newest says how old the last backup is.

use super::sql::{Arg, Row, stored_count};
use super::{StoreError, Tx};
use crate::model::backup::Backup;

/// How many backups the table keeps (one a day is nearly three years).
const KEPT: i64 = 1_000;

/// Adds a backup, and forgets those past the newest [`KEPT`].
pub(super) fn insert_backup(tx: &Tx, backup: &Backup) -> Result<(), StoreError> {
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
    tx.row(newest, &[], |row: &Row| {
        Ok(Backup {
            finished_at: row.date("finished_at")?,
            file: row.text("file")?,
            bytes: row.count("bytes")?,
        })
    })
}
