//! PostgreSQL: what the v3 API reads and writes beyond the v2 records. A registration's v3 id
//! is the column's default (see migrations/postgres/V4).

use std::sync::LazyLock;

use postgres::Row;

use super::PgTx;
use super::records::from_row;
use crate::records::{Record, RecordKind, Registration};
use crate::scope::Scope;
use crate::store::{StoreError, V3Extras, V3Filter, V3Registration, columns};

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
         FROM registrations r WHERE r.partner_id = $1 AND r.tenant = $2",
        fields.join(", ")
    )
});

/// The filter of a page: invoiceNumber and storeNumber, each when given.
const FILTER: &str = "($3::text IS NULL OR r.invoice_number = $3) AND ($4::text IS NULL OR r.shop_id = $4)";

fn v3_from_row(row: &Row) -> Result<V3Registration, StoreError> {
    let registration: Registration = from_row(row)?;
    let n = Registration::FIELDS.len();
    Ok(V3Registration {
        registration,
        v3_id: row.try_get(n)?,
        extras: V3Extras {
            product_id: row.try_get(n + 1)?,
            customer_email: row.try_get(n + 2)?,
            tires: row.try_get(n + 3)?,
        },
        cancelled_on: row.try_get(n + 4)?,
    })
}

pub(crate) fn set_v3_extras(t: &mut PgTx, registration_id: i64, extras: &V3Extras) -> Result<String, StoreError> {
    let row = t.query_one(
        "UPDATE registrations SET product_id = $2, customer_email = $3, v3_tires = $4 WHERE id = $1 RETURNING v3_id",
        &[
            &registration_id,
            &extras.product_id,
            &extras.customer_email,
            &extras.tires,
        ],
    )?;
    Ok(row.try_get(0)?)
}

pub(crate) fn v3_registration(t: &mut PgTx, scope: Scope, v3_id: &str) -> Result<Option<V3Registration>, StoreError> {
    let tenant = scope.tenant.as_str();
    t.query_opt(
        &format!("{} AND r.v3_id = $3", *SELECT),
        &[&scope.partner_id, &tenant, &v3_id],
    )?
    .as_ref()
    .map(v3_from_row)
    .transpose()
}

pub(crate) fn v3_registrations(
    t: &mut PgTx,
    scope: Scope,
    filter: &V3Filter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<V3Registration>), StoreError> {
    let tenant = scope.tenant.as_str();
    let (invoice, store) = (&filter.invoice_number, &filter.store_number);
    let total: i64 = t
        .query_one(
            &format!("SELECT count(*) FROM registrations r WHERE r.partner_id = $1 AND r.tenant = $2 AND {FILTER}"),
            &[&scope.partner_id, &tenant, invoice, store],
        )?
        .try_get(0)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let limit = i64::from(page_size);
    let rows = t.query(
        &format!("{} AND {FILTER} ORDER BY r.id LIMIT $5 OFFSET $6", *SELECT),
        &[&scope.partner_id, &tenant, invoice, store, &limit, &offset],
    )?;
    let found = rows.iter().map(v3_from_row).collect::<Result<_, _>>()?;
    Ok((total as u64, found))
}
