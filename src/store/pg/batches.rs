//! PostgreSQL's arm of the batch history (store/batches.rs has the rest, written once).

use super::PgTx;
use crate::model::batch::{NewTrailEntry, RejectionCount, Rejections};
use crate::store::StoreError;
use crate::store::sql::stored_count;

/// A batch's rejected entries and the counts of the rest: a statement of arrays each, one round
/// trip for up to a thousand rows.
pub(crate) fn insert_rejections(t: &mut PgTx, id: i64, rejected: &Rejections) -> Result<(), StoreError> {
    if !rejected.entries.is_empty() {
        let positions: Vec<i64> = (0..rejected.entries.len() as i64).collect();
        let entries: Vec<&str> = rejected.entries.iter().map(|k| k.entry.as_str()).collect();
        let sent: Vec<Option<&str>> = rejected.entries.iter().map(|k| k.sent.as_deref()).collect();
        t.execute(
            "INSERT INTO batch_rejections (batch_id, position, entry, sent) \
             SELECT $1, u.position, u.entry, u.sent FROM unnest($2::int8[], $3::text[], $4::text[]) AS u(position, entry, sent)",
            &[&id, &positions, &entries, &sent],
        )?;
    }
    if !rejected.counted.is_empty() {
        let column = |f: fn(&RejectionCount) -> &String| rejected.counted.iter().map(f).collect::<Vec<_>>();
        let counts: Vec<i64> = rejected
            .counted
            .iter()
            .map(|c| stored_count(c.count))
            .collect::<Result<_, _>>()?;
        t.execute(
            "INSERT INTO batch_rejection_counts (batch_id, record, field, code, count) \
             SELECT $1, u.record, u.field, u.code, u.count \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[]) AS u(record, field, code, count)",
            &[
                &id,
                &column(|c| &c.record),
                &column(|c| &c.field),
                &column(|c| &c.code),
                &counts,
            ],
        )?;
    }
    Ok(())
}

/// Trail rows per statement: a 100,000-record batch is a few round trips of arrays.
const TRAIL_CHUNK: usize = 10_000;

/// A batch's trail: a statement of arrays per chunk of rows.
pub(crate) fn insert_trail(t: &mut PgTx, id: i64, trail: &[NewTrailEntry<'_>]) -> Result<(), StoreError> {
    for (n, chunk) in trail.chunks(TRAIL_CHUNK).enumerate() {
        let first = (n * TRAIL_CHUNK) as i64;
        let positions: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let records: Vec<&str> = chunk.iter().map(|t| t.record).collect();
        let indexes: Vec<i64> = chunk.iter().map(|t| stored_count(t.index)).collect::<Result<_, _>>()?;
        let shops: Vec<&str> = chunk.iter().map(|t| t.shop_id).collect();
        let invoices: Vec<&str> = chunk.iter().map(|t| t.invoice_number).collect();
        let outcomes: Vec<&str> = chunk.iter().map(|t| t.outcome.into_str()).collect();
        let codes: Vec<Option<&str>> = chunk.iter().map(|t| t.codes.as_deref()).collect();
        t.execute(
            "INSERT INTO batch_records (batch_id, position, record, record_index, shop_id, invoice_number, outcome, codes) \
             SELECT $1, u.* FROM unnest($2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[]) \
             AS u(position, record, record_index, shop_id, invoice_number, outcome, codes)",
            &[&id, &positions, &records, &indexes, &shops, &invoices, &outcomes, &codes],
        )?;
    }
    Ok(())
}
