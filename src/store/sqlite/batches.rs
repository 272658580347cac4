//! SQLite's arm of the batch history (store/batches.rs has the rest, written once).

use rusqlite::{Connection, params};

use crate::model::batch::Rejections;
use crate::store::StoreError;

/// A batch's rejected entries and the counts of the rest: one cached insert a row.
pub(crate) fn insert_rejections(conn: &Connection, id: i64, rejected: &Rejections) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO batch_rejections (batch_id, position, entry) VALUES (?1, ?2, ?3)")?;
    for (position, entry) in rejected.entries.iter().enumerate() {
        stmt.execute(params![id, position, entry])?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO batch_rejection_counts (batch_id, record, field, code, count) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for c in &rejected.counted {
        stmt.execute(params![id, c.record, c.field, c.code, c.count])?;
    }
    Ok(())
}
