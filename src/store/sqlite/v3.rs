//! SQLite: what the v3 API reads and writes beyond the v2 records.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::records::{db_date, from_row, get_date, get_opt_date};
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

/// The columns a motor-club registration is read from, `motor_club_from_row`'s order.
static MOTOR_CLUB_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT v3_id, product_id, invoice_number, store_number, enroll_date, {}, cancelled_on \
         FROM motor_club_registrations WHERE partner_id = ?1 AND tenant = ?2",
        CUSTOMER_COLUMNS.join(", ")
    )
});

/// The filter of a motor-club page: invoiceNumber and storeNumber, each when given.
const MOTOR_CLUB_FILTER: &str = "(?3 IS NULL OR invoice_number = ?3) AND (?4 IS NULL OR store_number = ?4)";

fn motor_club_from_row(row: &Row) -> rusqlite::Result<StoredMotorClub> {
    let mut customer: [Option<String>; 9] = Default::default();
    for (i, value) in customer.iter_mut().enumerate() {
        *value = row.get(5 + i)?;
    }
    Ok(StoredMotorClub {
        id: row.get(0)?,
        program_id: None,
        registration: MotorClub {
            product_id: row.get(1)?,
            invoice_number: row.get(2)?,
            store_number: row.get(3)?,
            enroll_date: get_date(row, 4)?,
            customer: customer_from(customer),
        },
        cancelled_on: get_opt_date(row, 5 + CUSTOMER_COLUMNS.len())?,
    })
}

pub(crate) fn insert_motor_club(
    conn: &Connection,
    scope: Scope,
    r: &MotorClub,
    stamp: &Stamp,
) -> Result<Option<String>, StoreError> {
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        let customer: Vec<String> = (0..CUSTOMER_COLUMNS.len()).map(|i| format!("?{}", 7 + i)).collect();
        format!(
            "INSERT INTO motor_club_registrations (partner_id, tenant, v3_id, product_id, invoice_number, \
               store_number, enroll_date, {}, created_at, updated_at, revision) \
             VALUES (?1, ?2, ?{id}, ?3, ?4, ?5, ?6, {}, ?{at}, ?{at}, 1) \
             ON CONFLICT (partner_id, tenant, invoice_number, store_number) DO NOTHING RETURNING v3_id",
            CUSTOMER_COLUMNS.join(", "),
            customer.join(", "),
            at = 7 + CUSTOMER_COLUMNS.len(),
            id = 8 + CUSTOMER_COLUMNS.len(),
        )
    });
    let (tenant, enroll_date) = (scope.tenant.as_str(), db_date(&r.enroll_date));
    let id = V3Id::new();
    let id = id.as_str();
    let customer = customer_values(&r.customer);
    let mut values: Vec<&dyn ToSql> = vec![
        &scope.partner_id,
        &tenant,
        &r.product_id,
        &r.invoice_number,
        &r.store_number,
        &enroll_date,
    ];
    values.extend(customer.iter().map(|v| v as &dyn ToSql));
    values.push(&stamp.text);
    values.push(&id);
    let mut stmt = conn.prepare_cached(&INSERT)?;
    Ok(stmt.query_row(values.as_slice(), |row| row.get(0)).optional()?)
}

pub(crate) fn motor_club(conn: &Connection, scope: Scope, v3_id: &str) -> Result<Option<StoredMotorClub>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{} AND v3_id = ?3", *MOTOR_CLUB_SELECT))?;
    Ok(stmt
        .query_row(
            params![scope.partner_id, scope.tenant.as_str(), v3_id],
            motor_club_from_row,
        )
        .optional()?)
}

pub(crate) fn motor_clubs(
    conn: &Connection,
    scope: Scope,
    filter: &V3Filter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<StoredMotorClub>), StoreError> {
    let (partner, tenant) = (scope.partner_id, scope.tenant.as_str());
    let (invoice, store) = (filter.invoice_number.as_deref(), filter.store_number.as_deref());
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM motor_club_registrations WHERE partner_id = ?1 AND tenant = ?2 \
             AND {MOTOR_CLUB_FILTER}"
        ))?
        .query_row(params![partner, tenant, invoice, store], |row| row.get(0))?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let mut stmt = conn.prepare_cached(&format!(
        "{} AND {MOTOR_CLUB_FILTER} ORDER BY id LIMIT ?5 OFFSET ?6",
        *MOTOR_CLUB_SELECT
    ))?;
    let rows = stmt.query_map(
        params![partner, tenant, invoice, store, page_size, offset],
        motor_club_from_row,
    )?;
    Ok((total as u64, rows.collect::<rusqlite::Result<_>>()?))
}

pub(crate) fn replace_motor_club_customer(
    conn: &Connection,
    scope: Scope,
    v3_id: &str,
    customer: &Customer,
    stamp: &Stamp,
) -> Result<(), StoreError> {
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        let set: Vec<String> = CUSTOMER_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", 5 + i))
            .collect();
        format!(
            "UPDATE motor_club_registrations SET {}, updated_at = ?4, revision = revision + 1 \
             WHERE partner_id = ?1 AND tenant = ?2 AND v3_id = ?3",
            set.join(", ")
        )
    });
    let tenant = scope.tenant.as_str();
    let customer = customer_values(customer);
    let mut values: Vec<&dyn ToSql> = vec![&scope.partner_id, &tenant, &v3_id, &stamp.text];
    values.extend(customer.iter().map(|v| v as &dyn ToSql));
    conn.prepare_cached(&UPDATE)?.execute(values.as_slice())?;
    Ok(())
}

pub(crate) fn cancel_motor_club(
    conn: &Connection,
    scope: Scope,
    v3_id: &str,
    cancelled_on: DateTime<Utc>,
    stamp: &Stamp,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE motor_club_registrations SET cancelled_on = ?4, updated_at = ?5, revision = revision + 1 \
             WHERE partner_id = ?1 AND tenant = ?2 AND v3_id = ?3 AND cancelled_on IS NULL",
        )?
        .execute(params![
            scope.partner_id,
            scope.tenant.as_str(),
            v3_id,
            db_date(&cancelled_on),
            stamp.text
        ])?;
    Ok(changed == 1)
}
