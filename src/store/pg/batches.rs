//! PostgreSQL's arm of the batch history (store/batches.rs has the rest, written once).

use super::PgTx;
use crate::model::batch::{RejectionCount, Rejections};
use crate::store::StoreError;
use crate::store::sql::stored_count;

/// A batch's rejected entries and the counts of the rest: a statement of arrays each, one round
/// trip for up to a thousand rows.
pub(crate) fn insert_rejections(t: &mut PgTx, id: i64, rejected: &Rejections) -> Result<(), StoreError> {
    if !rejected.entries.is_empty() {
        let positions: Vec<i64> = (0..rejected.entries.len() as i64).collect();
        t.execute(
            "INSERT INTO batch_rejections (batch_id, position, entry) \
             SELECT $1, u.position, u.entry FROM unnest($2::int8[], $3::text[]) AS u(position, entry)",
            &[&id, &positions, &rejected.entries],
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
