//! SQLite: the batch history, one row per POST, with the result entries of its rejected
//! records.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params, params_from_iter};
use serde_json::value::RawValue;

use super::records::db_date;
use crate::model::batch::{BatchSummary, Counts, NewBatch, RejectionCount, Rejections, StoredBatch, TypeCounts};
use crate::records::RecordKind;
use crate::scope::Scope;
use crate::store::{StoreError, count_columns, tenant_tables};

static INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    let counts = count_columns();
    let placeholders: Vec<String> = (7..7 + counts.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO batches (partner_id, tenant, received_at, status, duration_ms, body_bytes, {}, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, {}, ?{}) RETURNING id",
        counts.join(", "),
        placeholders.join(", "),
        7 + counts.len()
    )
});

/// Records a batch, its rejected entries (already JSON) and the counts of the rest; answers its
/// id.
pub(crate) fn insert_batch(
    conn: &Connection,
    scope: Scope,
    batch: &NewBatch,
    rejected: &Rejections,
) -> Result<i64, StoreError> {
    let received_at = db_date(&batch.received_at);
    let tenant = scope.tenant.as_str();
    let counts: Vec<usize> = batch
        .counts
        .iter()
        .flat_map(|(_, c)| [c.accepted, c.rejected])
        .collect();
    let mut params: Vec<&dyn ToSql> = vec![
        &scope.partner_id,
        &tenant,
        &received_at,
        &batch.status,
        &batch.duration_ms,
        &batch.body_bytes,
    ];
    params.extend(counts.iter().map(|n| n as &dyn ToSql));
    params.push(&batch.error);
    let id = conn
        .prepare_cached(&INSERT_BATCH)?
        .query_row(params_from_iter(params), |row| row.get(0))?;
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
    Ok(id)
}

/// Deletes the batches received before `cutoff` (and their entries); answers how many.
pub(crate) fn prune_batches(conn: &Connection, cutoff: &chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM batches WHERE received_at < ?1")?
        .execute([db_date(cutoff)])?)
}

static SUMMARY_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, tenant, received_at, status, duration_ms, body_bytes, {}, error",
        count_columns().join(", ")
    )
});

fn summary(row: &Row) -> rusqlite::Result<BatchSummary> {
    let mut counts = TypeCounts::default();
    for (i, kind) in RecordKind::ALL.into_iter().enumerate() {
        counts.set(
            kind,
            Counts {
                accepted: row.get(6 + 2 * i)?,
                rejected: row.get(7 + 2 * i)?,
            },
        );
    }
    let tenant: String = row.get(1)?;
    Ok(BatchSummary {
        batch_id: row.get(0)?,
        tenant: if tenant == "test" { "test" } else { "live" },
        received_at: super::records::get_date(row, 2)?,
        status: row.get(3)?,
        duration_ms: row.get(4)?,
        bytes: row.get(5)?,
        counts,
        error: row.get(6 + 2 * RecordKind::ALL.len())?,
    })
}

/// One page of a tenant's batches, newest first, and how many there are in all.
pub(crate) fn list_batches(
    conn: &Connection,
    scope: Scope,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<BatchSummary>), StoreError> {
    let total: u64 = conn
        .prepare_cached("SELECT count(*) FROM batches WHERE partner_id = ?1 AND tenant = ?2")?
        .query_row(params![scope.partner_id, scope.tenant.as_str()], |r| r.get(0))?;
    let offset = u64::from(page.saturating_sub(1)) * u64::from(page_size);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM batches WHERE partner_id = ?1 AND tenant = ?2 \
         ORDER BY id DESC LIMIT ?3 OFFSET ?4",
        *SUMMARY_COLUMNS
    ))?;
    let rows = stmt.query_map(
        params![scope.partner_id, scope.tenant.as_str(), page_size, offset],
        summary,
    )?;
    Ok((total, rows.collect::<rusqlite::Result<_>>()?))
}

/// One of the tenant's batches with its rejected entries, in response order.
pub(crate) fn find_batch(conn: &Connection, scope: Scope, id: i64) -> Result<Option<StoredBatch>, StoreError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {} FROM batches WHERE id = ?1 AND partner_id = ?2 AND tenant = ?3",
            *SUMMARY_COLUMNS
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
    let mut stmt = conn.prepare_cached(
        "SELECT record, field, code, count FROM batch_rejection_counts WHERE batch_id = ?1 \
         ORDER BY count DESC, record, field, code",
    )?;
    let counted = stmt
        .query_map([id], |row| {
            Ok(RejectionCount {
                record: row.get("record")?,
                field: row.get("field")?,
                code: row.get("code")?,
                count: row.get("count")?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(StoredBatch {
        summary: found,
        rejected: entries,
        counted,
    }))
}

/// Deletes everything of one partner's tenant: its records and its batch history.
pub(crate) fn reset_tenant(conn: &Connection, scope: Scope) -> Result<(), StoreError> {
    for table in tenant_tables() {
        conn.execute(
            &format!("DELETE FROM {table} WHERE partner_id = ?1 AND tenant = ?2"),
            params![scope.partner_id, scope.tenant.as_str()],
        )?;
    }
    Ok(())
}
