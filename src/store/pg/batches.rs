//! PostgreSQL: the batch history, one row per POST, with the result entries of its rejected
//! records. Batch ids come from an identity column: unique across instances.

use std::sync::LazyLock;

use super::Param;
use chrono::{DateTime, Utc};
use postgres::Row;

use super::PgTx;
use serde_json::value::RawValue;

use crate::model::batch::{BatchSummary, Counts, NewBatch, RejectionCount, Rejections, StoredBatch, TypeCounts};
use crate::records::RecordKind;
use crate::scope::Scope;
use crate::store::{StoreError, count_columns, tenant_tables};

static INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    let counts = count_columns();
    let placeholders: Vec<String> = (7..7 + counts.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO batches (partner_id, tenant, received_at, status, duration_ms, body_bytes, {}, error) \
         VALUES ($1, $2, $3, $4, $5, $6, {}, ${}) RETURNING id",
        counts.join(", "),
        placeholders.join(", "),
        7 + counts.len()
    )
});

/// A count as stored (BIGINT).
fn stored(n: impl TryInto<i64>) -> Result<i64, StoreError> {
    n.try_into()
        .map_err(|_| StoreError::Database("a count too large to store".into()))
}

pub(crate) fn insert_batch(
    t: &mut PgTx,
    scope: Scope,
    batch: &NewBatch,
    rejected: &Rejections,
) -> Result<i64, StoreError> {
    let tenant = scope.tenant.as_str();
    let status = i64::from(batch.status);
    let duration_ms = stored(batch.duration_ms)?;
    let body_bytes = stored(batch.body_bytes)?;
    let counts: Vec<i64> = batch
        .counts
        .iter()
        .flat_map(|(_, c)| [c.accepted, c.rejected])
        .map(stored)
        .collect::<Result<_, _>>()?;
    let mut params: Vec<&dyn Param> = vec![
        &scope.partner_id,
        &tenant,
        &batch.received_at,
        &status,
        &duration_ms,
        &body_bytes,
    ];
    params.extend(counts.iter().map(|n| n as &dyn Param));
    params.push(&batch.error);
    let id: i64 = t.query_one(INSERT_BATCH.as_str(), &params)?.try_get(0)?;
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
            .map(|c| stored(c.count))
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
    Ok(id)
}

pub(crate) fn prune_batches(t: &mut PgTx, cutoff: &DateTime<Utc>) -> Result<usize, StoreError> {
    let n = t.execute("DELETE FROM batches WHERE received_at < $1", &[cutoff])?;
    Ok(n as usize)
}

static SUMMARY_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, tenant, received_at, status, duration_ms, body_bytes, {}, error",
        count_columns().join(", ")
    )
});

fn summary(row: &Row) -> Result<BatchSummary, StoreError> {
    let count = |i: usize| -> Result<usize, StoreError> {
        let n: i64 = row.try_get(i)?;
        usize::try_from(n).map_err(|_| StoreError::Database(format!("a stored count is negative: {n}").into()))
    };
    let mut counts = TypeCounts::default();
    for (i, kind) in RecordKind::ALL.into_iter().enumerate() {
        counts.set(
            kind,
            Counts {
                accepted: count(6 + 2 * i)?,
                rejected: count(7 + 2 * i)?,
            },
        );
    }
    let tenant: &str = row.try_get(1)?;
    let status: i64 = row.try_get(3)?;
    Ok(BatchSummary {
        batch_id: row.try_get(0)?,
        tenant: if tenant == "test" { "test" } else { "live" },
        received_at: row.try_get(2)?,
        status: u16::try_from(status).unwrap_or(0),
        duration_ms: count(4)? as u64,
        bytes: count(5)? as u64,
        counts,
        error: row.try_get(6 + 2 * RecordKind::ALL.len())?,
    })
}

pub(crate) fn list_batches(
    t: &mut PgTx,
    scope: Scope,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<BatchSummary>), StoreError> {
    let tenant = scope.tenant.as_str();
    let total: i64 = t
        .query_one(
            "SELECT count(*) FROM batches WHERE partner_id = $1 AND tenant = $2",
            &[&scope.partner_id, &tenant],
        )?
        .try_get(0)?;
    let limit = i64::from(page_size);
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let rows = t.query(
        &format!(
            "SELECT {} FROM batches WHERE partner_id = $1 AND tenant = $2 \
             ORDER BY id DESC LIMIT $3 OFFSET $4",
            *SUMMARY_COLUMNS
        ),
        &[&scope.partner_id, &tenant, &limit, &offset],
    )?;
    let batches = rows.iter().map(summary).collect::<Result<_, _>>()?;
    Ok((total.max(0) as u64, batches))
}

pub(crate) fn find_batch(t: &mut PgTx, scope: Scope, id: i64) -> Result<Option<StoredBatch>, StoreError> {
    let tenant = scope.tenant.as_str();
    let found = t.query_opt(
        &format!(
            "SELECT {} FROM batches WHERE id = $1 AND partner_id = $2 AND tenant = $3",
            *SUMMARY_COLUMNS
        ),
        &[&id, &scope.partner_id, &tenant],
    )?;
    let Some(found) = found else { return Ok(None) };
    let entries = t
        .query(
            "SELECT entry FROM batch_rejections WHERE batch_id = $1 ORDER BY position",
            &[&id],
        )?
        .iter()
        .map(|row| {
            let text: String = row.try_get(0)?;
            RawValue::from_string(text).map_err(|e| StoreError::Database(Box::new(e)))
        })
        .collect::<Result<_, StoreError>>()?;
    let counted = t
        .query(
            "SELECT record, field, code, count FROM batch_rejection_counts WHERE batch_id = $1 \
             ORDER BY count DESC, record, field, code",
            &[&id],
        )?
        .iter()
        .map(|row| {
            Ok(RejectionCount {
                record: row.try_get("record")?,
                field: row.try_get("field")?,
                code: row.try_get("code")?,
                count: row.try_get::<_, i64>("count")?.max(0) as u64,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(StoredBatch {
        summary: summary(&found)?,
        rejected: entries,
        counted,
    }))
}

/// In the write's one transaction: the reset is all or nothing, and a batch of the same tenant
/// committing meanwhile is either gone with the rest or comes after.
pub(crate) fn reset_tenant(t: &mut PgTx, scope: Scope) -> Result<(), StoreError> {
    let tenant = scope.tenant.as_str();
    for table in tenant_tables() {
        t.execute(
            &format!("DELETE FROM {table} WHERE partner_id = $1 AND tenant = $2"),
            &[&scope.partner_id, &tenant],
        )?;
    }
    Ok(())
}
