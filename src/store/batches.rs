//! The batch history: one row per POST, with the result entries of its rejected records.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::value::RawValue;

use super::Scope;
use super::records::db_date;
use crate::history::{BatchSummary, Counts, NewBatch, TypeCounts};

/// Records a batch and its rejected entries (already JSON); answers its id.
pub fn insert_batch<'e>(
    conn: &Connection,
    scope: Scope,
    batch: &NewBatch,
    rejected: impl IntoIterator<Item = &'e str>,
) -> rusqlite::Result<i64> {
    let c = &batch.counts;
    let id = conn
        .prepare_cached(
            "INSERT INTO batches (partner_id, tenant, received_at, status, duration_ms, body_bytes, \
             registrations_accepted, registrations_rejected, sales_accepted, sales_rejected, \
             claims_accepted, claims_rejected, cancellations_accepted, cancellations_rejected, error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id",
        )?
        .query_row(
            params![
                scope.partner_id,
                scope.tenant.as_str(),
                db_date(&batch.received_at),
                batch.status,
                batch.duration_ms,
                batch.body_bytes,
                c.registrations.accepted,
                c.registrations.rejected,
                c.sales.accepted,
                c.sales.rejected,
                c.claims.accepted,
                c.claims.rejected,
                c.cancellations.accepted,
                c.cancellations.rejected,
                batch.error,
            ],
            |row| row.get(0),
        )?;
    let mut stmt =
        conn.prepare_cached("INSERT INTO batch_rejections (batch_id, position, entry) VALUES (?1, ?2, ?3)")?;
    for (position, entry) in rejected.into_iter().enumerate() {
        stmt.execute(params![id, position, entry])?;
    }
    Ok(id)
}

/// Deletes the batches received before `cutoff` (and their entries); answers how many.
pub fn prune_batches(conn: &Connection, cutoff: &chrono::DateTime<chrono::Utc>) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM batches WHERE received_at < ?1")?
        .execute([db_date(cutoff)])
}

const SUMMARY_COLUMNS: &str = "id, tenant, received_at, status, duration_ms, body_bytes, \
    registrations_accepted, registrations_rejected, sales_accepted, sales_rejected, claims_accepted, \
    claims_rejected, cancellations_accepted, cancellations_rejected, error";

fn summary(row: &Row) -> rusqlite::Result<BatchSummary> {
    let count = |a: usize, r: usize| -> rusqlite::Result<Counts> {
        Ok(Counts {
            accepted: row.get(a)?,
            rejected: row.get(r)?,
        })
    };
    let tenant: String = row.get(1)?;
    Ok(BatchSummary {
        batch_id: row.get(0)?,
        tenant: if tenant == "test" { "test" } else { "live" },
        received_at: super::records::get_date(row, 2)?,
        status: row.get(3)?,
        duration_ms: row.get(4)?,
        bytes: row.get(5)?,
        counts: TypeCounts {
            registrations: count(6, 7)?,
            sales: count(8, 9)?,
            claims: count(10, 11)?,
            cancellations: count(12, 13)?,
        },
        error: row.get(14)?,
    })
}

/// One page of a tenant's batches, newest first, and how many there are in all.
pub fn list_batches(
    conn: &Connection,
    scope: Scope,
    page: u32,
    page_size: u32,
) -> rusqlite::Result<(u64, Vec<BatchSummary>)> {
    let total: u64 = conn
        .prepare_cached("SELECT count(*) FROM batches WHERE partner_id = ?1 AND tenant = ?2")?
        .query_row(params![scope.partner_id, scope.tenant.as_str()], |r| r.get(0))?;
    let offset = u64::from(page.saturating_sub(1)) * u64::from(page_size);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM batches WHERE partner_id = ?1 AND tenant = ?2 \
         ORDER BY id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt.query_map(
        params![scope.partner_id, scope.tenant.as_str(), page_size, offset],
        summary,
    )?;
    Ok((total, rows.collect::<rusqlite::Result<_>>()?))
}

/// One of the tenant's batches with its rejected entries, in response order.
pub fn find_batch(
    conn: &Connection,
    scope: Scope,
    id: i64,
) -> rusqlite::Result<Option<(BatchSummary, Vec<Box<RawValue>>)>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM batches WHERE id = ?1 AND partner_id = ?2 AND tenant = ?3"
        ))?
        .query_row(params![id, scope.partner_id, scope.tenant.as_str()], summary)
        .optional()?;
    let Some(found) = found else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT entry FROM batch_rejections WHERE batch_id = ?1 ORDER BY position")?;
    let entries = stmt
        .query_map([id], |row| {
            let text: String = row.get(0)?;
            RawValue::from_string(text)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some((found, entries)))
}

/// Deletes everything of one partner's tenant: its records and its batch history.
pub fn reset_tenant(conn: &Connection, scope: Scope) -> rusqlite::Result<()> {
    // Claims and cancellations first: they reference registrations.
    for table in ["claims", "cancellations", "sales", "registrations", "batches"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE partner_id = ?1 AND tenant = ?2"),
            params![scope.partner_id, scope.tenant.as_str()],
        )?;
    }
    Ok(())
}
