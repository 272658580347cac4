//! The batch history, one row per POST, with the result entries of its rejected records, on
//! either engine. Batch ids are never given twice: SQLite's AUTOINCREMENT, PostgreSQL's
//! identity column (unique across instances).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::sql::{Arg, Row, Sql, count_arg};
use super::{StoreError, Tx, count_columns, on_engine, pg, sqlite, tenant_tables};
use crate::model::batch::{
    BatchFilter, BatchSummary, BatchSums, Counts, DaySummary, NewBatch, NewTrailEntry, RecordOutcome, RejectionCount,
    Rejections, StoredBatch, TrailEntry, TypeCounts, Warned, WarningCount,
};
use crate::records::FiledUnder;
use crate::records::RecordKind;
use crate::scope::{Scope, Tenant};

static INSERT_BATCH: LazyLock<Sql> = LazyLock::new(|| {
    let counts = count_columns();
    let placeholders: Vec<String> = (7..7 + counts.len()).map(|i| format!("${i}")).collect();
    Sql::new(format!(
        "INSERT INTO batches (partner_id, tenant, received_at, status, duration_ms, body_bytes, {}, error, warnings, \
         warning_counts) VALUES ($1, $2, $3, $4, $5, $6, {}, ${}, ${}, ${}) RETURNING id",
        counts.join(", "),
        placeholders.join(", "),
        7 + counts.len(),
        8 + counts.len(),
        9 + counts.len()
    ))
});

/// Records a batch, its rejected entries (already JSON) and the counts of the rest, its
/// warnings counted, and its trail; answers its id.
pub fn insert_batch(
    tx: &Tx,
    scope: Scope,
    batch: &NewBatch,
    rejected: &Rejections,
    warned: &Warned,
    trail: &[NewTrailEntry<'_>],
) -> Result<i64, StoreError> {
    let mut args = vec![
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Date(batch.received_at),
        Arg::Int(batch.status.as_u16().into()),
        count_arg(batch.duration_ms)?,
        count_arg(batch.body_bytes)?,
    ];
    for (_, counts) in batch.counts.iter() {
        args.push(count_arg(counts.accepted)?);
        args.push(count_arg(counts.rejected)?);
    }
    args.push(Arg::OptText(batch.error.as_deref()));
    args.push(count_arg(warned.total())?);
    // At most a hundred entries, nearly always none: kept whole, as the detail answers them.
    let counted = match warned.counted.is_empty() {
        true => None,
        false => Some(serde_json::to_string(&warned.counted).map_err(|e| StoreError::Database(Box::new(e)))?),
    };
    args.push(Arg::OptText(counted.as_deref()));
    let id = tx
        .row(&*INSERT_BATCH, &args, |row| row.int("id"))?
        .ok_or_else(|| StoreError::Database("an INSERT ... RETURNING answered no row".into()))?;
    // Up to a thousand rows: one statement of arrays on PostgreSQL, a cached insert on SQLite.
    on_engine!(tx, insert_rejections(id, rejected))?;
    if !trail.is_empty() {
        on_engine!(tx, insert_trail(id, trail))?;
    }
    Ok(id)
}

/// Deletes the batches received before `cutoff` (and their entries); answers how many.
pub fn prune_batches(tx: &Tx, cutoff: &DateTime<Utc>) -> Result<usize, StoreError> {
    let deleted = tx.execute("DELETE FROM batches WHERE received_at < $1", &[Arg::Date(*cutoff)])?;
    Ok(deleted as usize)
}

static SUMMARY_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, tenant, received_at, status, duration_ms, body_bytes, {}, error, warnings",
        count_columns().join(", ")
    )
});

/// A row's tenant, as the table's CHECK allows it.
pub(super) fn stored_tenant(row: &Row) -> Result<Tenant, StoreError> {
    let name = row.text("tenant")?;
    name.parse()
        .map_err(|_| StoreError::Database(format!("a stored tenant {name:?}").into()))
}

/// A row of [`SUMMARY_COLUMNS`].
fn summary(row: &Row) -> Result<BatchSummary, StoreError> {
    let mut counts = TypeCounts::default();
    for kind in RecordKind::ALL {
        let name = kind.name().to_ascii_lowercase();
        counts.set(
            kind,
            Counts {
                accepted: row.count(format!("{name}_accepted").as_str())? as usize,
                rejected: row.count(format!("{name}_rejected").as_str())? as usize,
            },
        );
    }
    Ok(BatchSummary {
        batch_id: row.int("id")?,
        tenant: stored_tenant(row)?.into_str(),
        received_at: row.date("received_at")?,
        status: row.http_status("status")?,
        duration_ms: row.count("duration_ms")?,
        bytes: row.count("body_bytes")?,
        counts,
        warnings: row.count("warnings")?,
        error: row.opt_text("error")?,
    })
}

/// One page (from 1) of the batches the filter names (a partner's tenant's own, or every
/// partner's for the operators), newest first, each with its partner's id, and how many the
/// filter names in all. Only the conditions given are in the statement, so that a partner's own
/// list is a range of its index, and its count too.
pub fn list_batches(
    tx: &Tx,
    filter: &BatchFilter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<(i64, BatchSummary)>), StoreError> {
    let BatchFilter {
        partner_id,
        tenant,
        status,
        since,
        until,
    } = *filter;
    let given = [
        partner_id.map(|id| ("partner_id =", Arg::Int(id))),
        tenant.map(|t| ("tenant =", Arg::Text(t.into_str()))),
        status.map(|s| ("status =", Arg::Int(s.as_u16().into()))),
        since.map(|d| ("received_at >=", Arg::Date(d))),
        until.map(|d| ("received_at <=", Arg::Date(d))),
    ];
    let (mut conditions, mut args) = (Vec::new(), Vec::new());
    for (condition, arg) in given.into_iter().flatten() {
        args.push(arg);
        conditions.push(format!("{condition} ${}", args.len()));
    }
    let from = match conditions.is_empty() {
        true => "FROM batches".to_owned(),
        false => format!("FROM batches WHERE {}", conditions.join(" AND ")),
    };
    tx.page(
        &format!("SELECT partner_id, {}", *SUMMARY_COLUMNS),
        &from,
        "id DESC",
        &args,
        (page, page_size),
        |row| Ok((row.int("partner_id")?, summary(row)?)),
    )
}

/// Each UTC day's batches from `since` on, summed per partner and tenant (of one partner, when
/// given): oldest day first.
pub fn day_summaries(tx: &Tx, since: DateTime<Utc>, partner_id: Option<i64>) -> Result<Vec<DaySummary>, StoreError> {
    static SUMMARIES: LazyLock<Sql> = LazyLock::new(|| {
        // The day as UTC sees it: SQLite keeps the time as RFC 3339 text in UTC.
        let query = |day: &str| {
            format!(
                "SELECT {day} AS day, partner_id, tenant, count(*) AS batches, {} AS written, {} AS rejected \
                 FROM batches WHERE received_at >= $1 AND ($2 IS NULL OR partner_id = $2) \
                 GROUP BY {day}, partner_id, tenant ORDER BY day, partner_id, tenant",
                summed("_accepted"),
                summed("_rejected"),
            )
        };
        Sql::each(
            query("to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
            query("substr(received_at, 1, 10)"),
        )
    });
    tx.rows(&*SUMMARIES, &[Arg::Date(since), Arg::OptInt(partner_id)], |row| {
        Ok(DaySummary {
            date: row.text("day")?,
            partner_id: row.int("partner_id")?,
            tenant: stored_tenant(row)?,
            batches: row.count("batches")?,
            records_written: row.count("written")?,
            records_rejected: row.count("rejected")?,
        })
    })
}

/// Each partner's tenant's last batch whose body was read (not refused whole).
pub fn last_batches(tx: &Tx) -> Result<Vec<(Scope, DateTime<Utc>)>, StoreError> {
    tx.rows(
        "SELECT partner_id, tenant, max(received_at) AS last FROM batches WHERE error IS NULL \
         GROUP BY partner_id, tenant",
        &[],
        |row| {
            let scope = Scope {
                partner_id: row.int("partner_id")?,
                tenant: stored_tenant(row)?,
            };
            Ok((scope, row.date("last")?))
        },
    )
}

/// Each partner's tenant's batches from `since` on, summed.
pub fn activity_since(tx: &Tx, since: DateTime<Utc>) -> Result<Vec<(Scope, BatchSums)>, StoreError> {
    static ACTIVITY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT partner_id, tenant, count(*) AS batches, {} AS written, {} AS rejected, \
             CAST(SUM(warnings) AS BIGINT) AS warnings FROM batches WHERE received_at >= $1 GROUP BY partner_id, tenant",
            summed("_accepted"),
            summed("_rejected")
        )
    });
    tx.rows(ACTIVITY.as_str(), &[Arg::Date(since)], |row| {
        let scope = Scope {
            partner_id: row.int("partner_id")?,
            tenant: stored_tenant(row)?,
        };
        let sums = BatchSums {
            batches: row.count("batches")?,
            records_written: row.count("written")?,
            records_rejected: row.count("rejected")?,
            warnings: row.count("warnings")?,
        };
        Ok((scope, sums))
    })
}

/// The sum over a batch's count columns ending in `suffix` (`_accepted`, `_rejected`), as a
/// BIGINT on both engines.
fn summed(suffix: &str) -> String {
    let columns: Vec<String> = count_columns().into_iter().filter(|c| c.ends_with(suffix)).collect();
    format!("CAST(SUM({}) AS BIGINT)", columns.join(" + "))
}

/// One of the tenant's batches with its rejected entries, in response order.
pub fn find_batch(tx: &Tx, scope: Scope, id: i64) -> Result<Option<StoredBatch>, StoreError> {
    Ok(find(tx, id, Some(scope))?.map(|(_, batch)| batch))
}

/// Any partner's batch with its rejected entries, and whose it is (the operators' view).
pub fn find_any_batch(tx: &Tx, id: i64) -> Result<Option<(Scope, StoredBatch)>, StoreError> {
    find(tx, id, None)
}

/// Batch `id`, when it is `only`'s (or anyone's, without), with its rejected entries.
fn find(tx: &Tx, id: i64, only: Option<Scope>) -> Result<Option<(Scope, StoredBatch)>, StoreError> {
    let found = tx.row(
        &format!(
            "SELECT partner_id, {}, warning_counts FROM batches WHERE id = $1",
            *SUMMARY_COLUMNS
        ),
        &[Arg::Int(id)],
        |row| {
            let scope = Scope {
                partner_id: row.int("partner_id")?,
                tenant: stored_tenant(row)?,
            };
            let warned: Vec<WarningCount> = match row.opt_text("warning_counts")? {
                Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Database(Box::new(e)))?,
                None => Vec::new(),
            };
            Ok((scope, summary(row)?, warned))
        },
    )?;
    let Some((scope, summary, warned)) = found.filter(|(scope, ..)| only.is_none_or(|only| only == *scope)) else {
        return Ok(None);
    };
    let rejected = tx.rows(
        "SELECT entry, sent FROM batch_rejections WHERE batch_id = $1 ORDER BY position",
        &[Arg::Int(id)],
        |row| {
            let entry = RawValue::from_string(row.text("entry")?).map_err(|e| StoreError::Database(Box::new(e)))?;
            Ok((entry, row.opt_text("sent")?))
        },
    )?;
    let counted = tx.rows(
        "SELECT record, field, code, count FROM batch_rejection_counts WHERE batch_id = $1 \
         ORDER BY count DESC, record, field, code",
        &[Arg::Int(id)],
        |row| {
            Ok(RejectionCount {
                record: row.text("record")?,
                field: row.text("field")?,
                code: row.text("code")?,
                count: row.count("count")?,
            })
        },
    )?;
    Ok(Some((
        scope,
        StoredBatch {
            summary,
            rejected,
            counted,
            warned,
        },
    )))
}

/// Every batch within the retention that carried a record filed under `filed` (of one partner's
/// tenant, or of any), with whose it was: newest first, each batch's records in their order.
/// One probe of the trail's index, however long the history.
pub fn find_trail(
    tx: &Tx,
    filed: &FiledUnder,
    partner_id: Option<i64>,
    tenant: Option<Tenant>,
) -> Result<Vec<(Scope, TrailEntry)>, StoreError> {
    tx.rows(
        "SELECT b.partner_id, b.tenant, b.id, b.received_at, r.record, r.record_index, r.outcome, r.codes          FROM batch_records r JOIN batches b ON b.id = r.batch_id          WHERE r.invoice_number = $1 AND r.shop_id = $2 AND ($3 IS NULL OR b.partner_id = $3)          AND ($4 IS NULL OR b.tenant = $4) ORDER BY r.batch_id DESC, r.position",
        &[
            Arg::Text(&filed.invoice_number),
            Arg::Text(&filed.shop_id),
            Arg::OptInt(partner_id),
            Arg::OptText(tenant.map(|t| t.into_str())),
        ],
        |row| {
            let scope = Scope {
                partner_id: row.int("partner_id")?,
                tenant: stored_tenant(row)?,
            };
            let outcome = row.text("outcome")?;
            let outcome: RecordOutcome = outcome
                .parse()
                .map_err(|_| StoreError::Database(format!("a stored outcome {outcome:?}").into()))?;
            let codes = row.opt_text("codes")?;
            Ok((
                scope,
                TrailEntry {
                    batch_id: row.int("id")?,
                    received_at: row.date("received_at")?,
                    record: row.text("record")?,
                    index: row.count("record_index")?,
                    outcome,
                    codes: codes.iter().flat_map(|c| c.split(',')).map(str::to_owned).collect(),
                },
            ))
        },
    )
}

/// The partners' tenants (of those in `partner_ids`) that store a registration or a sale filed
/// under `filed`: each an index probe.
pub fn stored_scopes(tx: &Tx, filed: &FiledUnder, partner_ids: &[i64]) -> Result<Vec<Scope>, StoreError> {
    static SCOPES: LazyLock<Sql> = LazyLock::new(|| {
        Sql::with_ids(
            "SELECT partner_id, tenant FROM registrations WHERE invoice_number = $3 AND shop_id = $2 \
             AND partner_id {ids} \
             UNION SELECT DISTINCT partner_id, tenant FROM sales WHERE partner_id {ids} \
             AND tenant IN ('live', 'test') AND shop_id = $2 AND invoice_number = $3",
        )
    });
    tx.rows(
        &*SCOPES,
        &[
            Arg::Ids(partner_ids),
            Arg::Text(&filed.shop_id),
            Arg::Text(&filed.invoice_number),
        ],
        |row| {
            Ok(Scope {
                partner_id: row.int("partner_id")?,
                tenant: stored_tenant(row)?,
            })
        },
    )
}

/// The shops at which an invoice number is stored (a registration or a sale: claims and
/// cancellations need a registration) by one of the partners in `partner_ids`, or was carried by
/// a batch within the history (of `partner_id`'s, or any partner's), in `tenant` when given;
/// each part an index probe by InvoiceNumber.
pub fn invoice_shops(
    tx: &Tx,
    invoice_number: &str,
    partner_ids: &[i64],
    partner_id: Option<i64>,
    tenant: Option<Tenant>,
) -> Result<Vec<String>, StoreError> {
    static SHOPS: LazyLock<Sql> = LazyLock::new(|| {
        Sql::with_ids(
            "SELECT shop_id FROM registrations WHERE invoice_number = $2 AND partner_id {ids} \
             AND ($4 IS NULL OR tenant = $4) \
             UNION SELECT shop_id FROM sales WHERE invoice_number = $2 AND partner_id {ids} \
             AND ($4 IS NULL OR tenant = $4) \
             UNION SELECT r.shop_id FROM batch_records r JOIN batches b ON b.id = r.batch_id \
             WHERE r.invoice_number = $2 AND ($3 IS NULL OR b.partner_id = $3) AND ($4 IS NULL OR b.tenant = $4) \
             ORDER BY shop_id",
        )
    });
    tx.rows(
        &*SHOPS,
        &[
            Arg::Ids(partner_ids),
            Arg::Text(invoice_number),
            Arg::OptInt(partner_id),
            Arg::OptText(tenant.map(|t| t.into_str())),
        ],
        |row| row.text("shop_id"),
    )
}

/// Deletes everything of one partner's tenant: its records and its batch history. In the
/// write's one transaction: the reset is all or nothing, and a batch of the same tenant
/// committing meanwhile is either gone with the rest or comes after.
pub fn reset_tenant(tx: &Tx, scope: Scope) -> Result<(), StoreError> {
    for table in tenant_tables() {
        tx.execute(
            &format!("DELETE FROM {table} WHERE partner_id = $1 AND tenant = $2"),
            &[Arg::Int(scope.partner_id), Arg::Text(scope.tenant.into_str())],
        )?;
    }
    Ok(())
}
