//! SQLite: upserts and lookups of the four record types.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, Type, Value as SqlValue, ValueRef};
use rusqlite::{Connection, Row, ToSql};

use crate::ledger::{RegistrationKey, StoredRegistration};
use crate::records::{Record, RecordKind, Value};
use crate::scope::Scope;
use crate::store::sql::Row as SqlRow;
use crate::store::usage;
use crate::store::{Pending, PerKind, Stamp, StoreError, V3Id, WriteColumns, Written, table, write_columns};

/// Dates are stored with fixed microseconds so that text order is time order.
pub(crate) fn db_date(d: &DateTime<Utc>) -> String {
    // Not `format("...")`: that parses the pattern again for every date of a batch.
    d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn get_date(row: &Row, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    // Parsed where SQLite keeps it: no copy of the text first.
    let text = row.get_ref(idx)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

pub(crate) fn get_opt_date(row: &Row, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => get_date(row, idx).map(Some),
    }
}

/// The SQL of one record kind, made once from its declaration.
struct Statements {
    insert: String,
    update: String,
}

static STATEMENTS: PerKind<Statements> = PerKind::new(|| RecordKind::ALL.map(statements));

/// A write is two plain statements, never one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
/// (SQLite runs RETURNING through a temporary table: it doubled the cost of each row).
/// `insert` stores a new key and does nothing to a stored one (then `changes()` is 0); only then
/// `update` overwrites the stored record where something changed (`changes()` says whether).
/// Both take the same parameters: ?1 partner_id, ?2 tenant, then registration_id (claims and
/// cancellations), then the fields in order, then the time of the batch; a registration's insert
/// takes its new v3 id last.
fn statements(kind: RecordKind) -> Statements {
    let WriteColumns { all, key, .. } = write_columns(kind);
    let now = all.len() + 3;
    let param = |at: usize| format!("?{}", at + 3);
    // Each column with its parameter's place: the key's, and the rest (what an update changes).
    let (at_key, changing): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(_, c)| key.contains(c));
    let table = table(kind);
    // A registration gets its v3 id as it is first stored, whichever API wrote it: the insert's
    // last parameter.
    let (v3_id, new_v3_id) = match kind {
        RecordKind::Registrations => (", v3_id".to_owned(), format!(", ?{}", now + 1)),
        _ => (String::new(), String::new()),
    };
    let insert = format!(
        "INSERT INTO {table} (partner_id, tenant, {cols}, created_at, updated_at, revision{v3_id}) \
         VALUES (?1, ?2, {vals}, ?{now}, ?{now}, 1{new_v3_id}) \
         ON CONFLICT (partner_id, tenant, {key}) DO NOTHING",
        cols = all.join(", "),
        vals = (0..all.len()).map(param).collect::<Vec<_>>().join(", "),
        key = key.join(", "),
    );
    let each = |columns: &[(usize, &String)], f: &dyn Fn(usize, &str) -> String, by: &str| {
        columns.iter().map(|&(at, c)| f(at, c)).collect::<Vec<_>>().join(by)
    };
    let update = format!(
        "UPDATE {table} SET {set}, updated_at = ?{now}, revision = revision + 1 \
         WHERE partner_id = ?1 AND tenant = ?2 AND {at_key} AND ({old}) IS NOT ({new})",
        set = each(&changing, &|at, c| format!("{c} = {}", param(at)), ", "),
        at_key = each(&at_key, &|at, k| format!("{k} = {}", param(at)), " AND "),
        old = each(&changing, &|_, c| c.to_owned(), ", "),
        new = each(&changing, &|at, _| param(at), ", "),
    );
    Statements { insert, update }
}

/// A field's value as SQLite stores it: dates as sortable text, flags as 0/1.
struct Param<'a>(Value<'a>);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Number(Some(n)) => ToSqlOutput::Owned(SqlValue::Integer(n)),
            Value::Number(None) | Value::Date(None) => ToSqlOutput::Owned(SqlValue::Null),
            Value::Date(Some(d)) => ToSqlOutput::Owned(SqlValue::Text(db_date(&d))),
            Value::Flag(b) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(b))),
        })
    }
}

/// One cached insert (and, for a stored key, one cached update) per record: embedded, SQLite
/// has no round trips to save, and this is its fastest way in.
pub(crate) fn upsert_all<T: Record>(
    conn: &Connection,
    scope: Scope,
    rows: &[Pending<T>],
    now: &Stamp,
) -> Result<Vec<Written>, StoreError> {
    let statements = STATEMENTS.of(T::KIND);
    let mut insert = conn.prepare_cached(&statements.insert)?;
    let mut update = conn.prepare_cached(&statements.update)?;
    let v3_id_at = insert.parameter_count();
    let mut written = Vec::with_capacity(rows.len());
    for (registration_id, record) in rows {
        debug_assert_eq!(registration_id.is_some(), T::KIND.belongs_to_registration());
        bind(&mut insert, scope, *registration_id, *record, now)?;
        if T::KIND == RecordKind::Registrations {
            insert.raw_bind_parameter(v3_id_at, V3Id::new().as_str())?;
        }
        written.push(if insert.raw_execute()? == 1 {
            Written::Inserted(conn.last_insert_rowid())
        } else {
            bind(&mut update, scope, *registration_id, *record, now)?;
            Written::stored(update.raw_execute()? == 1)
        });
    }
    Ok(written)
}

/// Binds one record's parameters (see `statements`), without gathering them first.
fn bind<T: Record>(
    stmt: &mut rusqlite::CachedStatement,
    scope: Scope,
    registration_id: Option<i64>,
    record: &T,
    now: &Stamp,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, scope.partner_id)?;
    stmt.raw_bind_parameter(2, scope.tenant.into_str())?;
    let mut at = 3;
    if let Some(id) = registration_id {
        stmt.raw_bind_parameter(at, id)?;
        at += 1;
    }
    for value in record.values() {
        stmt.raw_bind_parameter(at, Param(value))?;
        at += 1;
    }
    stmt.raw_bind_parameter(at, now.text.as_str())
}

/// Every registration with one of these keys (ShopID, InvoiceNumber): one cached point read per
/// key (embedded, a read is a function call: cheaper than sending the keys as JSON and taking
/// them apart in SQL).
static REGISTRATION_BY_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM registrations r \
         WHERE r.partner_id = ?1 AND r.tenant = ?2 AND r.shop_id = ?3 AND r.invoice_number = ?4",
        usage::REGISTRATION
    )
});

pub(crate) fn load_registrations(
    conn: &Connection,
    scope: Scope,
    keys: &[RegistrationKey],
) -> Result<Vec<StoredRegistration>, StoreError> {
    let mut stmt = conn.prepare_cached(&REGISTRATION_BY_KEY)?;
    stmt.raw_bind_parameter(1, scope.partner_id)?;
    stmt.raw_bind_parameter(2, scope.tenant.into_str())?;
    let mut found: Vec<StoredRegistration> = Vec::new();
    for (shop_id, invoice_number) in keys {
        stmt.raw_bind_parameter(3, shop_id.as_str())?;
        stmt.raw_bind_parameter(4, invoice_number.as_str())?;
        let mut rows = stmt.raw_query();
        if let Some(row) = rows.next()? {
            found.push(StoredRegistration::read(usage::usage_of(&SqlRow::Sqlite(row))?));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::columns;
    use crate::store::sql::Statement;
    use rusqlite::Connection;

    /// schema.sql and the record declarations name the same columns.
    #[test]
    fn every_declared_field_has_its_column_in_the_schema() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::store::SCHEMA).unwrap();
        for kind in RecordKind::ALL {
            let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", table(kind))).unwrap();
            let in_schema: Vec<String> = stmt
                .query_map([], |row| row.get::<_, String>(1))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let mut declared = columns(kind);
            declared.extend(["id", "partner_id", "tenant", "created_at", "updated_at", "revision"].map(String::from));
            if kind == RecordKind::Registrations {
                declared.extend(["v3_id", "product_id", "customer_email", "v3_tires"].map(String::from));
            }
            if kind.belongs_to_registration() {
                declared.push("registration_id".into());
            }
            let (mut a, mut b) = (in_schema.clone(), declared.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{}", table(kind));
        }
    }

    /// Each read of a registration by its key is one search of registrations_key, on all four
    /// columns, led by the invoice number (V7: the comparisons end at the first column).
    #[test]
    fn a_registration_is_found_by_one_search_of_its_key_led_by_the_invoice_number() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        let find = crate::store::find_sql(RecordKind::Registrations);
        for sql in [
            usage::REGISTRATION_USAGE.for_sqlite(),
            REGISTRATION_BY_KEY.as_str().into(),
            find.for_sqlite(),
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let values: [&dyn rusqlite::ToSql; 5] = [&1, &"live", &"005108", &"104252", &None::<String>];
            for (i, value) in values.iter().take(stmt.parameter_count()).enumerate() {
                stmt.raw_bind_parameter(i + 1, value).unwrap();
            }
            let mut rows = stmt.raw_query();
            let mut plan = Vec::new();
            while let Some(row) = rows.next().unwrap() {
                plan.push(row.get::<_, String>(3).unwrap());
            }
            let key = "USING INDEX registrations_key (invoice_number=? AND shop_id=? AND partner_id=? AND tenant=?)";
            assert!(
                plan[0].starts_with("SEARCH") && plan[0].ends_with(key),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn stored_dates_have_fixed_width_and_sort_as_text() {
        let d = |s: &str| db_date(&s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(d("2018-12-04T00:00:00Z"), "2018-12-04T00:00:00.000000Z");
        assert_eq!(d("2018-12-04T13:08:00.25Z"), "2018-12-04T13:08:00.250000Z");
        assert!(d("2018-12-04T13:08:00.25Z") < d("2018-12-04T13:08:01Z"));
    }
}
