//! Upserts and lookups of the four record types, each taking a connection or transaction.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Scope;
use crate::records::{Cancellation, Claim, Registration, Sale};
use crate::status::{CancellationRef, RegistrationUsage};

/// What an upsert did to the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Inserted,
    Updated,
    Unchanged,
}

/// Dates are stored with fixed microseconds so that text order is time order.
pub fn db_date(d: &DateTime<Utc>) -> String {
    // Not `format("...")`: that parses the pattern again for every date of a batch.
    d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(super) fn get_date(row: &Row, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(idx)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn get_opt_date(row: &Row, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => get_date(row, idx).map(Some),
    }
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE something changed RETURNING revision`:
/// no row back means unchanged, revision 1 inserted, more updated. Parameters: ?1 partner_id,
/// ?2 tenant, then the columns in order, then the time of the batch.
fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let now = columns.len() + 3;
    let placeholders: Vec<String> = (3..now).map(|i| format!("?{i}")).collect();
    let changing: Vec<&str> = columns.iter().copied().filter(|c| !key.contains(c)).collect();
    let set: Vec<String> = changing.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let excluded: Vec<String> = changing.iter().map(|c| format!("excluded.{c}")).collect();
    format!(
        "INSERT INTO {table} (partner_id, tenant, {cols}, created_at, updated_at, revision) \
         VALUES (?1, ?2, {vals}, ?{now}, ?{now}, 1) \
         ON CONFLICT (partner_id, tenant, {key}) DO UPDATE SET {set}, \
         updated_at = excluded.updated_at, revision = revision + 1 \
         WHERE ({changing}) IS NOT ({excluded}) \
         RETURNING revision",
        cols = columns.join(", "),
        vals = placeholders.join(", "),
        key = key.join(", "),
        set = set.join(", "),
        changing = changing.join(", "),
        excluded = excluded.join(", "),
    )
}

fn action(revision: Option<i64>) -> Action {
    match revision {
        None => Action::Unchanged,
        Some(1) => Action::Inserted,
        Some(_) => Action::Updated,
    }
}

const REGISTRATION_COLUMNS: &[&str] = &[
    "org_id",
    "shop_id",
    "invoice_number",
    "plan_enroll_date",
    "employee_id",
    "customer_id",
    "vehicle_year",
    "vehicle_make",
    "vehicle_model",
    "vin",
    "current_mileage",
    "tires_covered",
    "tpp_price_cents",
    "tire_brand",
    "tire_model",
    "tire_size",
    "tire_price_cents",
    "tire_cost_cents",
    "tire_dot1",
    "tire_dot2",
    "tire_dot3",
    "tire_dot4",
    "tire_dot5",
    "tire_dot6",
    "commercial_vehicle",
];
static UPSERT_REGISTRATION: LazyLock<String> =
    LazyLock::new(|| upsert_sql("registrations", REGISTRATION_COLUMNS, &["shop_id", "invoice_number"]));

pub fn upsert_registration(conn: &Connection, scope: Scope, r: &Registration, now: &str) -> rusqlite::Result<Action> {
    let mut stmt = conn.prepare_cached(&UPSERT_REGISTRATION)?;
    stmt.query_row(
        params![
            scope.partner_id,
            scope.tenant.as_str(),
            r.org_id,
            r.shop_id,
            r.invoice_number,
            db_date(&r.plan_enroll_date),
            r.employee_id,
            r.customer_id,
            r.vehicle_year,
            r.vehicle_make,
            r.vehicle_model,
            r.vin,
            r.current_mileage,
            r.tires_covered,
            r.tpp_price,
            r.tire_brand,
            r.tire_model,
            r.tire_size,
            r.tire_price,
            r.tire_cost,
            r.tire_dot1,
            r.tire_dot2,
            r.tire_dot3,
            r.tire_dot4,
            r.tire_dot5,
            r.tire_dot6,
            r.commercial_vehicle,
            now
        ],
        |row| row.get(0),
    )
    .optional()
    .map(action)
}

const CLAIM_COLUMNS: &[&str] = &[
    "registration_id",
    "org_id",
    "shop_id",
    "invoice_number",
    "claim_date",
    "repair_shop_id",
    "repair_invoice_number",
    "vin",
    "vehicle_mileage",
    "tire_claim_count",
    "credit_amount_cents",
    "cost_per_unit_cents",
    "service_type",
    "service_description",
    "tire_location1",
    "tire_location2",
    "tire_location3",
    "tire_location4",
    "tire_location5",
    "tire_location6",
    "tire_brand",
    "tire_model",
    "tire_size",
    "tire_price_cents",
    "tire_cost_cents",
];
const CLAIM_KEY: &[&str] = &[
    "shop_id",
    "invoice_number",
    "org_id",
    "repair_shop_id",
    "repair_invoice_number",
];
static UPSERT_CLAIM: LazyLock<String> = LazyLock::new(|| upsert_sql("claims", CLAIM_COLUMNS, CLAIM_KEY));

pub fn upsert_claim(
    conn: &Connection,
    scope: Scope,
    registration_id: i64,
    c: &Claim,
    now: &str,
) -> rusqlite::Result<Action> {
    let mut stmt = conn.prepare_cached(&UPSERT_CLAIM)?;
    stmt.query_row(
        params![
            scope.partner_id,
            scope.tenant.as_str(),
            registration_id,
            c.org_id,
            c.shop_id,
            c.invoice_number,
            db_date(&c.claim_date),
            c.repair_shop_id,
            c.repair_invoice_number,
            c.vin,
            c.vehicle_mileage,
            c.tire_claim_count,
            c.credit_amount,
            c.cost_per_unit,
            c.service_type,
            c.service_description,
            c.tire_location1,
            c.tire_location2,
            c.tire_location3,
            c.tire_location4,
            c.tire_location5,
            c.tire_location6,
            c.tire_brand,
            c.tire_model,
            c.tire_size,
            c.tire_price,
            c.tire_cost,
            now
        ],
        |row| row.get(0),
    )
    .optional()
    .map(action)
}

/// TireClaimCount of the stored claim with the same natural key, 0 when there is none.
pub fn stored_claim_count(conn: &Connection, scope: Scope, c: &Claim) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT tire_claim_count FROM claims WHERE partner_id = ?1 AND tenant = ?2 AND shop_id = ?3 \
         AND invoice_number = ?4 AND org_id = ?5 AND repair_shop_id = ?6 AND repair_invoice_number = ?7",
    )?;
    let n = stmt
        .query_row(
            params![
                scope.partner_id,
                scope.tenant.as_str(),
                c.shop_id,
                c.invoice_number,
                c.org_id,
                c.repair_shop_id,
                c.repair_invoice_number
            ],
            |row| row.get(0),
        )
        .optional()?;
    Ok(n.unwrap_or(0))
}

const SALE_COLUMNS: &[&str] = &[
    "org_id",
    "shop_id",
    "invoice_number",
    "sale_date",
    "tire_count",
    "tire_brand",
    "tire_model",
    "tire_size",
    "tire_price_cents",
    "tire_cost_cents",
];
const SALE_KEY: &[&str] = &[
    "shop_id",
    "invoice_number",
    "org_id",
    "tire_brand",
    "tire_model",
    "tire_size",
];
static UPSERT_SALE: LazyLock<String> = LazyLock::new(|| upsert_sql("sales", SALE_COLUMNS, SALE_KEY));

pub fn upsert_sale(conn: &Connection, scope: Scope, s: &Sale, now: &str) -> rusqlite::Result<Action> {
    let mut stmt = conn.prepare_cached(&UPSERT_SALE)?;
    stmt.query_row(
        params![
            scope.partner_id,
            scope.tenant.as_str(),
            s.org_id,
            s.shop_id,
            s.invoice_number,
            db_date(&s.sale_date),
            s.tire_count,
            s.tire_brand,
            s.tire_model,
            s.tire_size,
            s.tire_price,
            s.tire_cost,
            now
        ],
        |row| row.get(0),
    )
    .optional()
    .map(action)
}

const CANCELLATION_COLUMNS: &[&str] = &[
    "registration_id",
    "org_id",
    "shop_id",
    "invoice_number",
    "cancel_shop_id",
    "cancel_invoice_number",
    "tire_cancel_count",
    "cancel_date",
];
const CANCELLATION_KEY: &[&str] = &[
    "shop_id",
    "invoice_number",
    "org_id",
    "cancel_shop_id",
    "cancel_invoice_number",
];
static UPSERT_CANCELLATION: LazyLock<String> =
    LazyLock::new(|| upsert_sql("cancellations", CANCELLATION_COLUMNS, CANCELLATION_KEY));

pub fn upsert_cancellation(
    conn: &Connection,
    scope: Scope,
    registration_id: i64,
    c: &Cancellation,
    now: &str,
) -> rusqlite::Result<Action> {
    let mut stmt = conn.prepare_cached(&UPSERT_CANCELLATION)?;
    stmt.query_row(
        params![
            scope.partner_id,
            scope.tenant.as_str(),
            registration_id,
            c.org_id,
            c.shop_id,
            c.invoice_number,
            c.cancel_shop_id,
            c.cancel_invoice_number,
            c.tire_cancel_count,
            db_date(&c.cancel_date),
            now
        ],
        |row| row.get(0),
    )
    .optional()
    .map(action)
}

/// A registration (by ShopID and InvoiceNumber, optionally narrowed by OrgID) with the totals
/// of its claims and cancellations.
pub fn registration_usage(
    conn: &Connection,
    scope: Scope,
    shop_id: &str,
    invoice_number: &str,
    org_id: Option<&str>,
) -> rusqlite::Result<Option<RegistrationUsage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.org_id, r.shop_id, r.invoice_number, r.plan_enroll_date, r.created_at, r.tires_covered, \
           (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = r.id), \
           (SELECT MAX(claim_date) FROM claims WHERE registration_id = r.id), \
           (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = r.id) \
         FROM registrations r \
         WHERE r.partner_id = ?1 AND r.tenant = ?2 AND r.shop_id = ?3 AND r.invoice_number = ?4 \
           AND (?5 IS NULL OR r.org_id = ?5)",
    )?;
    let usage = stmt
        .query_row(
            params![scope.partner_id, scope.tenant.as_str(), shop_id, invoice_number, org_id],
            |row| {
                Ok(RegistrationUsage {
                    registration_id: row.get(0)?,
                    org_id: row.get(1)?,
                    shop_id: row.get(2)?,
                    invoice_number: row.get(3)?,
                    plan_enroll_date: get_date(row, 4)?,
                    created_at: get_date(row, 5)?,
                    tires_covered: row.get(6)?,
                    tires_claimed: row.get(7)?,
                    latest_claim_date: get_opt_date(row, 8)?,
                    tires_cancelled: row.get(9)?,
                    cancellation: None,
                })
            },
        )
        .optional()?;
    let Some(mut usage) = usage else { return Ok(None) };
    if usage.tires_cancelled > 0 {
        let mut stmt = conn.prepare_cached(
            "SELECT org_id, cancel_shop_id, cancel_invoice_number, tire_cancel_count, cancel_date \
             FROM cancellations WHERE registration_id = ?1 ORDER BY id LIMIT 1",
        )?;
        usage.cancellation = stmt
            .query_row([usage.registration_id], |row| {
                Ok(CancellationRef {
                    org_id: row.get(0)?,
                    cancel_shop_id: row.get(1)?,
                    cancel_invoice_number: row.get(2)?,
                    tire_cancel_count: row.get(3)?,
                    cancel_date: get_date(row, 4)?,
                })
            })
            .optional()?;
    }
    Ok(Some(usage))
}

/// How a GET names records: by shop and invoice, optionally narrowed by OrgID.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub shop_id: String,
    pub invoice_number: String,
    pub org_id: Option<String>,
}

fn select_sql(table: &str, columns: &[&str]) -> String {
    format!(
        "SELECT {} FROM {table} WHERE partner_id = ?1 AND tenant = ?2 AND shop_id = ?3 \
         AND invoice_number = ?4 AND (?5 IS NULL OR org_id = ?5) ORDER BY id",
        columns.join(", ")
    )
}

fn select<T>(
    conn: &Connection,
    sql: &str,
    scope: Scope,
    key: &Lookup,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(
        params![
            scope.partner_id,
            scope.tenant.as_str(),
            key.shop_id,
            key.invoice_number,
            key.org_id
        ],
        map,
    )?;
    rows.collect()
}

static SELECT_REGISTRATIONS: LazyLock<String> = LazyLock::new(|| select_sql("registrations", REGISTRATION_COLUMNS));

pub fn find_registrations(conn: &Connection, scope: Scope, key: &Lookup) -> rusqlite::Result<Vec<Registration>> {
    select(conn, &SELECT_REGISTRATIONS, scope, key, |row| {
        Ok(Registration {
            org_id: row.get(0)?,
            shop_id: row.get(1)?,
            invoice_number: row.get(2)?,
            plan_enroll_date: get_date(row, 3)?,
            employee_id: row.get(4)?,
            customer_id: row.get(5)?,
            vehicle_year: row.get(6)?,
            vehicle_make: row.get(7)?,
            vehicle_model: row.get(8)?,
            vin: row.get(9)?,
            current_mileage: row.get(10)?,
            tires_covered: row.get(11)?,
            tpp_price: row.get(12)?,
            tire_brand: row.get(13)?,
            tire_model: row.get(14)?,
            tire_size: row.get(15)?,
            tire_price: row.get(16)?,
            tire_cost: row.get(17)?,
            tire_dot1: row.get(18)?,
            tire_dot2: row.get(19)?,
            tire_dot3: row.get(20)?,
            tire_dot4: row.get(21)?,
            tire_dot5: row.get(22)?,
            tire_dot6: row.get(23)?,
            commercial_vehicle: row.get(24)?,
        })
    })
}

static SELECT_CLAIMS: LazyLock<String> = LazyLock::new(|| select_sql("claims", &CLAIM_COLUMNS[1..]));

pub fn find_claims(conn: &Connection, scope: Scope, key: &Lookup) -> rusqlite::Result<Vec<Claim>> {
    select(conn, &SELECT_CLAIMS, scope, key, |row| {
        Ok(Claim {
            org_id: row.get(0)?,
            shop_id: row.get(1)?,
            invoice_number: row.get(2)?,
            claim_date: get_date(row, 3)?,
            repair_shop_id: row.get(4)?,
            repair_invoice_number: row.get(5)?,
            vin: row.get(6)?,
            vehicle_mileage: row.get(7)?,
            tire_claim_count: row.get(8)?,
            credit_amount: row.get(9)?,
            cost_per_unit: row.get(10)?,
            service_type: row.get(11)?,
            service_description: row.get(12)?,
            tire_location1: row.get(13)?,
            tire_location2: row.get(14)?,
            tire_location3: row.get(15)?,
            tire_location4: row.get(16)?,
            tire_location5: row.get(17)?,
            tire_location6: row.get(18)?,
            tire_brand: row.get(19)?,
            tire_model: row.get(20)?,
            tire_size: row.get(21)?,
            tire_price: row.get(22)?,
            tire_cost: row.get(23)?,
        })
    })
}

static SELECT_SALES: LazyLock<String> = LazyLock::new(|| select_sql("sales", SALE_COLUMNS));

pub fn find_sales(conn: &Connection, scope: Scope, key: &Lookup) -> rusqlite::Result<Vec<Sale>> {
    select(conn, &SELECT_SALES, scope, key, |row| {
        Ok(Sale {
            org_id: row.get(0)?,
            shop_id: row.get(1)?,
            invoice_number: row.get(2)?,
            sale_date: get_date(row, 3)?,
            tire_count: row.get(4)?,
            tire_brand: row.get(5)?,
            tire_model: row.get(6)?,
            tire_size: row.get(7)?,
            tire_price: row.get(8)?,
            tire_cost: row.get(9)?,
        })
    })
}

static SELECT_CANCELLATIONS: LazyLock<String> =
    LazyLock::new(|| select_sql("cancellations", &CANCELLATION_COLUMNS[1..]));

pub fn find_cancellations(conn: &Connection, scope: Scope, key: &Lookup) -> rusqlite::Result<Vec<Cancellation>> {
    select(conn, &SELECT_CANCELLATIONS, scope, key, |row| {
        Ok(Cancellation {
            org_id: row.get(0)?,
            shop_id: row.get(1)?,
            invoice_number: row.get(2)?,
            cancel_shop_id: row.get(3)?,
            cancel_invoice_number: row.get(4)?,
            tire_cancel_count: row.get(5)?,
            cancel_date: get_date(row, 6)?,
        })
    })
}

/// Answers when the database can be read.
pub fn ping(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_dates_have_fixed_width_and_sort_as_text() {
        let d = |s: &str| db_date(&s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(d("2018-12-04T00:00:00Z"), "2018-12-04T00:00:00.000000Z");
        assert_eq!(d("2018-12-04T13:08:00.25Z"), "2018-12-04T13:08:00.250000Z");
        assert!(d("2018-12-04T13:08:00.25Z") < d("2018-12-04T13:08:01Z"));
    }
}
