//! PostgreSQL: what the v3 API reads and writes beyond the v2 records. A registration's v3 id
//! is the column's default (see migrations/postgres/V4).

use std::sync::LazyLock;

use super::Param;
use chrono::{DateTime, Utc};
use postgres::Row;

use super::PgTx;
use super::records::from_row;
use crate::model::motor_club::{Customer, MotorClub, StoredMotorClub};
use crate::model::v3_registration::{V3Extras, V3Filter, V3Registration};
use crate::records::{Record, RecordKind, Registration};
use crate::scope::Scope;
use crate::store::{CUSTOMER_COLUMNS, Stamp, StoreError, V3Id, columns, customer_from, customer_values};

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

/// The columns a motor-club registration is read from, `motor_club_from_row`'s order.
static MOTOR_CLUB_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT v3_id, product_id, invoice_number, store_number, enroll_date, {}, cancelled_on \
         FROM motor_club_registrations WHERE partner_id = $1 AND tenant = $2",
        CUSTOMER_COLUMNS.join(", ")
    )
});

/// The filter of a motor-club page: invoiceNumber and storeNumber, each when given.
const MOTOR_CLUB_FILTER: &str = "($3::text IS NULL OR invoice_number = $3) AND ($4::text IS NULL OR store_number = $4)";

fn motor_club_from_row(row: &Row) -> Result<StoredMotorClub, StoreError> {
    let mut customer: [Option<String>; 9] = Default::default();
    for (i, value) in customer.iter_mut().enumerate() {
        *value = row.try_get(5 + i)?;
    }
    Ok(StoredMotorClub {
        id: row.try_get(0)?,
        program_id: None,
        registration: MotorClub {
            product_id: row.try_get(1)?,
            invoice_number: row.try_get(2)?,
            store_number: row.try_get(3)?,
            enroll_date: row.try_get(4)?,
            customer: customer_from(customer),
        },
        cancelled_on: row.try_get(5 + CUSTOMER_COLUMNS.len())?,
    })
}

pub(crate) fn insert_motor_club(
    t: &mut PgTx,
    scope: Scope,
    r: &MotorClub,
    stamp: &Stamp,
) -> Result<Option<String>, StoreError> {
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        let customer: Vec<String> = (0..CUSTOMER_COLUMNS.len()).map(|i| format!("${}", 7 + i)).collect();
        format!(
            "INSERT INTO motor_club_registrations (partner_id, tenant, product_id, invoice_number, \
               store_number, enroll_date, {}, created_at, updated_at, revision, v3_id) \
             VALUES ($1, $2, $3, $4, $5, $6, {}, ${at}, ${at}, 1, ${id}) \
             ON CONFLICT (partner_id, tenant, invoice_number, store_number) DO NOTHING RETURNING v3_id",
            CUSTOMER_COLUMNS.join(", "),
            customer.join(", "),
            at = 7 + CUSTOMER_COLUMNS.len(),
            id = 8 + CUSTOMER_COLUMNS.len(),
        )
    });
    let tenant = scope.tenant.as_str();
    let id = V3Id::new();
    let id = id.as_str();
    let customer = customer_values(&r.customer);
    let mut values: Vec<&dyn Param> = vec![
        &scope.partner_id,
        &tenant,
        &r.product_id,
        &r.invoice_number,
        &r.store_number,
        &r.enroll_date,
    ];
    values.extend(customer.iter().map(|v| v as &dyn Param));
    values.push(&stamp.at);
    values.push(&id);
    t.query_opt(&INSERT, &values)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(StoreError::from)
}

pub(crate) fn motor_club(t: &mut PgTx, scope: Scope, v3_id: &str) -> Result<Option<StoredMotorClub>, StoreError> {
    let tenant = scope.tenant.as_str();
    t.query_opt(
        &format!("{} AND v3_id = $3", *MOTOR_CLUB_SELECT),
        &[&scope.partner_id, &tenant, &v3_id],
    )?
    .as_ref()
    .map(motor_club_from_row)
    .transpose()
}

pub(crate) fn motor_clubs(
    t: &mut PgTx,
    scope: Scope,
    filter: &V3Filter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<StoredMotorClub>), StoreError> {
    let tenant = scope.tenant.as_str();
    let (invoice, store) = (&filter.invoice_number, &filter.store_number);
    let total: i64 = t
        .query_one(
            &format!(
                "SELECT count(*) FROM motor_club_registrations WHERE partner_id = $1 AND tenant = $2 \
                 AND {MOTOR_CLUB_FILTER}"
            ),
            &[&scope.partner_id, &tenant, invoice, store],
        )?
        .try_get(0)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let limit = i64::from(page_size);
    let rows = t.query(
        &format!(
            "{} AND {MOTOR_CLUB_FILTER} ORDER BY id LIMIT $5 OFFSET $6",
            *MOTOR_CLUB_SELECT
        ),
        &[&scope.partner_id, &tenant, invoice, store, &limit, &offset],
    )?;
    let found = rows.iter().map(motor_club_from_row).collect::<Result<_, _>>()?;
    Ok((total as u64, found))
}

pub(crate) fn replace_motor_club_customer(
    t: &mut PgTx,
    scope: Scope,
    v3_id: &str,
    customer: &Customer,
    stamp: &Stamp,
) -> Result<(), StoreError> {
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        let set: Vec<String> = CUSTOMER_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", 5 + i))
            .collect();
        format!(
            "UPDATE motor_club_registrations SET {}, updated_at = $4, revision = revision + 1 \
             WHERE partner_id = $1 AND tenant = $2 AND v3_id = $3",
            set.join(", ")
        )
    });
    let tenant = scope.tenant.as_str();
    let customer = customer_values(customer);
    let mut values: Vec<&dyn Param> = vec![&scope.partner_id, &tenant, &v3_id, &stamp.at];
    values.extend(customer.iter().map(|v| v as &dyn Param));
    t.execute(&UPDATE, &values)?;
    Ok(())
}

pub(crate) fn cancel_motor_club(
    t: &mut PgTx,
    scope: Scope,
    v3_id: &str,
    cancelled_on: DateTime<Utc>,
    stamp: &Stamp,
) -> Result<bool, StoreError> {
    let tenant = scope.tenant.as_str();
    let changed = t.execute(
        "UPDATE motor_club_registrations SET cancelled_on = $4, updated_at = $5, revision = revision + 1 \
         WHERE partner_id = $1 AND tenant = $2 AND v3_id = $3 AND cancelled_on IS NULL",
        &[&scope.partner_id, &tenant, &v3_id, &cancelled_on, &stamp.at],
    )?;
    Ok(changed == 1)
}
