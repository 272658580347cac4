//! SQLite: what the v3 API reads and writes beyond the v2 records.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::records::{from_row, get_opt_date};
use crate::records::{Record, RecordKind, Registration};
use crate::scope::Scope;
use crate::store::{StoreError, V3Extras, V3Filter, V3Registration, columns};

/// A new registration's v3 id: 24 hex digits (96 random bits), made by SQLite as the row goes
/// in (PostgreSQL: the column's default).
pub(crate) const NEW_V3_ID: &str = "lower(hex(randomblob(12)))";

/// The columns a v3 registration is read from: the v2 fields in declaration order, then what
/// only v3 has, then the CancelDate of its first cancellation.
static SELECT: LazyLock<String> = LazyLock::new(|| {
    let fields: Vec<String> = columns(RecordKind::Registrations)
        .iter()
        .map(|c| format!("r.{c}"))
        .collect();
    format!(
        "SELECT {}, r.v3_id, r.product_id, r.customer_email, r.v3_tires, \
           (SELECT cancel_date FROM cancellations c WHERE c.registration_id = r.id ORDER BY c.id LIMIT 1) \
         FROM registrations r WHERE r.partner_id = ?1 AND r.tenant = ?2",
        fields.join(", ")
    )
});

/// The filter of a page: invoiceNumber and storeNumber, each when given.
const FILTER: &str = "(?3 IS NULL OR r.invoice_number = ?3) AND (?4 IS NULL OR r.shop_id = ?4)";

fn v3_from_row(row: &Row) -> rusqlite::Result<V3Registration> {
    let registration: Registration = from_row(row)?;
    let n = Registration::FIELDS.len();
    Ok(V3Registration {
        registration,
        v3_id: row.get(n)?,
        extras: V3Extras {
            product_id: row.get(n + 1)?,
            customer_email: row.get(n + 2)?,
            tires: row.get(n + 3)?,
        },
        cancelled_on: get_opt_date(row, n + 4)?,
    })
}

pub(crate) fn set_v3_extras(conn: &Connection, registration_id: i64, extras: &V3Extras) -> Result<String, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE registrations SET product_id = ?2, customer_email = ?3, v3_tires = ?4 WHERE id = ?1 RETURNING v3_id",
    )?;
    Ok(stmt.query_row(
        params![registration_id, extras.product_id, extras.customer_email, extras.tires],
        |row| row.get(0),
    )?)
}

pub(crate) fn v3_registration(
    conn: &Connection,
    scope: Scope,
    v3_id: &str,
) -> Result<Option<V3Registration>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{} AND r.v3_id = ?3", *SELECT))?;
    Ok(stmt
        .query_row(params![scope.partner_id, scope.tenant.as_str(), v3_id], v3_from_row)
        .optional()?)
}

pub(crate) fn v3_registrations(
    conn: &Connection,
    scope: Scope,
    filter: &V3Filter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<V3Registration>), StoreError> {
    let (partner, tenant) = (scope.partner_id, scope.tenant.as_str());
    let (invoice, store) = (filter.invoice_number.as_deref(), filter.store_number.as_deref());
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM registrations r WHERE r.partner_id = ?1 AND r.tenant = ?2 AND {FILTER}"
        ))?
        .query_row(params![partner, tenant, invoice, store], |row| row.get(0))?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let mut stmt = conn.prepare_cached(&format!("{} AND {FILTER} ORDER BY r.id LIMIT ?5 OFFSET ?6", *SELECT))?;
    let rows = stmt.query_map(params![partner, tenant, invoice, store, page_size, offset], v3_from_row)?;
    Ok((total as u64, rows.collect::<rusqlite::Result<_>>()?))
}
