//! SQLite's arm of the batch history (store/batches.rs has the rest, written once).

use rusqlite::{Connection, params};

use crate::model::batch::{NewTrailEntry, Rejections};
use crate::store::StoreError;

/// A batch's rejected entries and the counts of the rest: one cached insert a row.
pub(crate) fn insert_rejections(conn: &Connection, id: i64, rejected: &Rejections) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("INSERT INTO batch_rejections (batch_id, position, entry, sent) VALUES (?1, ?2, ?3, ?4)")?;
    for (position, kept) in rejected.entries.iter().enumerate() {
        stmt.execute(params![id, position, kept.entry, kept.sent])?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO batch_rejection_counts (batch_id, record, field, code, count) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for c in &rejected.counted {
        stmt.execute(params![id, c.record, c.field, c.code, c.count])?;
    }
    Ok(())
}

/// A batch's trail: one cached insert a record.
pub(crate) fn insert_trail(conn: &Connection, id: i64, trail: &[NewTrailEntry<'_>]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO batch_records (batch_id, position, record, record_index, shop_id, invoice_number, outcome, codes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (position, t) in trail.iter().enumerate() {
        let codes = (!t.codes.is_empty()).then(|| t.codes.join(","));
        stmt.execute(params![
            id,
            position,
            t.record,
            t.index,
            t.shop_id,
            t.invoice_number,
            t.outcome.as_str(),
            codes
        ])?;
    }
    Ok(())
}
