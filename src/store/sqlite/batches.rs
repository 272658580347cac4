//! SQLite's arm of the batch history (store/batches.rs has the rest, written once).

use rusqlite::types::{ToSqlOutput, ValueRef};
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

/// Trail rows per statement: one statement's overhead (binding, stepping, resetting) shared by
/// many rows, well within SQLite's limit of 32,766 parameters.
const TRAIL_ROWS: usize = 256;

/// A text argument, borrowed.
fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

/// The cached insert of `rows` trail rows.
fn trail_insert(conn: &Connection, rows: usize) -> rusqlite::Result<rusqlite::CachedStatement<'_>> {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
    conn.prepare_cached(&format!(
        "INSERT INTO batch_records (batch_id, position, record, record_index, shop_id, invoice_number, outcome, codes) \
         VALUES {values}"
    ))
}

/// A batch's trail: [`TRAIL_ROWS`] rows a statement, then the rest a row at a time (two cached
/// statements, whatever the batch's size).
pub(crate) fn insert_trail(conn: &Connection, id: i64, trail: &[NewTrailEntry<'_>]) -> Result<(), StoreError> {
    let row = |position: usize| {
        let t = &trail[position];
        [
            ToSqlOutput::Owned(id.into()),
            ToSqlOutput::Owned((position as i64).into()),
            text(t.record),
            ToSqlOutput::Owned((t.index as i64).into()),
            text(t.shop_id),
            text(t.invoice_number),
            text(t.outcome.into_str()),
            t.codes.as_deref().map_or(ToSqlOutput::Borrowed(ValueRef::Null), text),
        ]
    };
    let whole = trail.len() / TRAIL_ROWS * TRAIL_ROWS;
    if whole > 0 {
        let mut stmt = trail_insert(conn, TRAIL_ROWS)?;
        for first in (0..whole).step_by(TRAIL_ROWS) {
            stmt.execute(rusqlite::params_from_iter((first..first + TRAIL_ROWS).flat_map(row)))?;
        }
    }
    if whole < trail.len() {
        let mut stmt = trail_insert(conn, 1)?;
        for position in whole..trail.len() {
            stmt.execute(rusqlite::params_from_iter(row(position)))?;
        }
    }
    Ok(())
}
