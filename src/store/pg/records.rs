//! PostgreSQL: upserts and lookups of the four record types. A batch's records of one type go
//! in as one `INSERT ... SELECT FROM unnest(...) ON CONFLICT ... DO UPDATE`, one array per
//! column, whatever the batch's size.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::Param;
use chrono::{DateTime, Utc};

use super::PgTx;
use super::reader::Readers;
use crate::store::at_most_one;
use crate::store::sql::Statement;

use crate::ledger::{RegistrationKey, StoredRegistration};
use crate::records::{Record, RecordKind, Value};
use crate::scope::Scope;
use crate::status::RegistrationUsage;
use crate::store::sql::Row as SqlRow;
use crate::store::usage;
use crate::store::{Pending, PerKind, Stamp, StoreError, V3Id, WriteColumns, Written, table, write_columns};
use crate::wire::Kind;

/// A field kind's column type.
fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text(_) => "text",
        Kind::Int { .. } | Kind::Money => "int8",
        Kind::Date => "timestamptz",
        Kind::Flag => "bool",
    }
}

/// The SQL of one record kind, made once from its declaration.
struct Statements {
    upsert: String,
    /// The key's columns, as the upsert returns them.
    key: Vec<String>,
}

static STATEMENTS: PerKind<Statements> = PerKind::new(|| RecordKind::ALL.map(statements));

/// The set-based upsert: $1 partner_id, $2 tenant, $3 the batch's time, then one array per
/// column (registration_id first for claims and cancellations, then the fields in order, then
/// a registration's new v3 id). A row that changes nothing is not updated and not returned;
/// the rows returned carry their key, to be matched to the records they came from. And the GET
/// lookup.
fn statements(kind: RecordKind) -> Statements {
    let WriteColumns { mut all, key, changing } = write_columns(kind);
    // registration_id's type, then each field's.
    let mut types: Vec<&str> = if kind.belongs_to_registration() {
        vec!["int8"]
    } else {
        Vec::new()
    };
    types.extend(kind.fields().iter().map(|spec| sql_type(spec.kind)));
    // A registration gets its v3 id as it is first stored, whichever API wrote it: the last
    // array. A stored registration keeps its own.
    if kind == RecordKind::Registrations {
        all.push("v3_id".to_owned());
        types.push("text");
    }
    let arrays: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + 4))
        .collect();
    let list = |prefix: &str, cols: &[String]| {
        cols.iter()
            .map(|c| format!("{prefix}{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let set: Vec<String> = changing.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let table = table(kind);
    let upsert = format!(
        "INSERT INTO {table} AS t (partner_id, tenant, {cols}, created_at, updated_at, revision) \
         SELECT $1, $2, {from_u}, $3, $3, 1 FROM unnest({arrays}) AS u({cols}) \
         ON CONFLICT (partner_id, tenant, {key}) DO UPDATE SET {set}, \
         updated_at = excluded.updated_at, revision = t.revision + 1 \
         WHERE ({old}) IS DISTINCT FROM ({new}) \
         RETURNING t.id, t.revision, {returned}",
        cols = all.join(", "),
        from_u = list("u.", &all),
        arrays = arrays.join(", "),
        key = key.join(", "),
        set = set.join(", "),
        old = list("t.", &changing),
        new = list("excluded.", &changing),
        returned = key.iter().map(|k| format!("t.{k}")).collect::<Vec<_>>().join(", "),
    );
    Statements { upsert, key }
}

/// One column of a statement's rows, as the array it is sent as.
enum Array<'a> {
    Text(Vec<&'a str>),
    Number(Vec<Option<i64>>),
    Date(Vec<Option<DateTime<Utc>>>),
    Flag(Vec<bool>),
}

impl<'a> Array<'a> {
    fn of(kind: Kind, capacity: usize) -> Array<'a> {
        match kind {
            Kind::Text(_) => Array::Text(Vec::with_capacity(capacity)),
            Kind::Int { .. } | Kind::Money => Array::Number(Vec::with_capacity(capacity)),
            Kind::Date => Array::Date(Vec::with_capacity(capacity)),
            Kind::Flag => Array::Flag(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, value: Value<'a>) -> Result<(), StoreError> {
        match (self, value) {
            (Array::Text(a), Value::Text(v)) => a.push(v),
            (Array::Number(a), Value::Number(v)) => a.push(v),
            (Array::Date(a), Value::Date(v)) => a.push(v),
            (Array::Flag(a), Value::Flag(v)) => a.push(v),
            (_, v) => {
                return Err(StoreError::Database(
                    format!("a value does not fit its column: {v:?}").into(),
                ));
            }
        }
        Ok(())
    }

    fn param(&self) -> &dyn Param {
        match self {
            Array::Text(a) => a,
            Array::Number(a) => a,
            Array::Date(a) => a,
            Array::Flag(a) => a,
        }
    }
}

/// One statement per round: a key that comes n times in the batch is in rounds 1 to n (one
/// statement may not touch a row twice), so a batch without repeated keys is one statement,
/// and a repeated key is written in batch order, as one-by-one upserts would.
pub(crate) fn upsert_all<T: Record>(
    t: &mut PgTx,
    scope: Scope,
    rows: &[Pending<T>],
    now: &Stamp,
) -> Result<Vec<Written>, StoreError> {
    let mut out = vec![Written::Unchanged; rows.len()];
    let keys: Vec<Vec<&str>> = rows.iter().map(|(_, record)| record.key_text()).collect();
    let mut seen: HashMap<&[&str], usize> = HashMap::with_capacity(rows.len());
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let n = seen.entry(key).or_insert(0);
        if rounds.len() <= *n {
            rounds.push(Vec::new());
        }
        rounds[*n].push(i);
        *n += 1;
    }
    for round in rounds {
        upsert_round(t, scope, rows, &keys, &round, now, &mut out)?;
    }
    Ok(out)
}

fn upsert_round<T: Record>(
    t: &mut PgTx,
    scope: Scope,
    rows: &[Pending<T>],
    keys: &[Vec<&str>],
    round: &[usize],
    now: &Stamp,
    out: &mut [Written],
) -> Result<(), StoreError> {
    let mut arrays: Vec<Array> = Vec::with_capacity(T::FIELDS.len() + 1);
    let mut registration_ids: Vec<i64> = Vec::new();
    arrays.extend(T::FIELDS.iter().map(|f| Array::of(f.kind, round.len())));
    // Within a round each key is one record's.
    let mut at: HashMap<&[&str], usize> = HashMap::with_capacity(round.len());
    for &i in round {
        let (registration_id, record) = rows[i];
        if T::KIND.belongs_to_registration() {
            registration_ids.push(
                registration_id
                    .ok_or_else(|| StoreError::Database(format!("a {} without its registration", T::NAME).into()))?,
            );
        }
        for (array, value) in arrays.iter_mut().zip(record.values()) {
            array.push(value)?;
        }
        at.insert(&keys[i], i);
    }
    let tenant = scope.tenant.into_str();
    let mut params: Vec<&dyn Param> = vec![&scope.partner_id, &tenant, &now.at];
    if T::KIND.belongs_to_registration() {
        params.push(&registration_ids);
    }
    params.extend(arrays.iter().map(Array::param));
    // A registration's new v3 id, the last array (kept only by the rows inserted).
    let made: Vec<V3Id> = match T::KIND {
        RecordKind::Registrations => round.iter().map(|_| V3Id::new()).collect(),
        _ => Vec::new(),
    };
    let v3_ids: Vec<&str> = made.iter().map(V3Id::as_str).collect();
    if T::KIND == RecordKind::Registrations {
        params.push(&v3_ids);
    }
    let statements = STATEMENTS.of(T::KIND);
    for row in t.query(&statements.upsert, &params)? {
        let key: Vec<&str> = statements
            .key
            .iter()
            .map(|c| row.try_get(c.as_str()))
            .collect::<Result<_, _>>()?;
        let i = *at
            .get(key.as_slice())
            .ok_or_else(|| StoreError::Database(format!("an upsert answered an unknown key {key:?}").into()))?;
        out[i] = Written::from_row(Some((row.try_get("id")?, row.try_get("revision")?)));
    }
    Ok(())
}

/// The registrations of a batch's keys ($3 shops, $4 invoices), locked. One index probe per key,
/// whatever the statistics say: the `LIMIT 1` keeps the planner from turning the join around.
/// Before the first ANALYZE of a freshly filled table, and in the generic plan of a statement
/// run many times on one connection, it guessed the tenant held one row and scanned all of it
/// against every key (50,000 registrations by 10,000 keys ran into the 60 s statement timeout).
static LOAD_REGISTRATIONS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM unnest($3::text[], $4::text[]) AS k(shop_id, invoice_number) \
         CROSS JOIN LATERAL (SELECT * FROM registrations x WHERE x.partner_id = $1 AND x.tenant = $2 \
           AND x.shop_id = k.shop_id AND x.invoice_number = k.invoice_number LIMIT 1) r \
         ORDER BY r.id FOR UPDATE OF r",
        usage::REGISTRATION
    )
});

/// The registrations locked `FOR UPDATE` in id order: two batches that touch the same
/// registrations lock them in the same order, and the second reads the first's claims.
pub(crate) fn load_registrations(
    t: &mut PgTx,
    scope: Scope,
    keys: &[RegistrationKey],
) -> Result<Vec<StoredRegistration>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let shops: Vec<&str> = keys.iter().map(|(s, _)| s.as_str()).collect();
    let invoices: Vec<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
    let tenant = scope.tenant.into_str();
    let rows = t.query(&LOAD_REGISTRATIONS, &[&scope.partner_id, &tenant, &shops, &invoices])?;
    rows.iter()
        .map(|row| usage::usage_of(&SqlRow::Postgres(row)).map(StoredRegistration::read))
        .collect()
}

/// [`registration_usage`] awaited on this worker's own connection ([`Readers`]); `None` when the
/// lookup must take the blocking path.
pub(crate) async fn registration_usage_now(
    readers: &Readers,
    scope: Scope,
    shop_id: &str,
    invoice_number: &str,
    org_id: Option<&str>,
) -> Option<Result<Option<RegistrationUsage>, StoreError>> {
    let tenant = scope.tenant.into_str();
    let rows = readers
        .query(
            usage::REGISTRATION_USAGE.for_postgres(),
            &[&scope.partner_id, &tenant, &shop_id, &invoice_number, &org_id],
        )
        .await;
    let rows = match rows {
        Ok(Some(rows)) => rows,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    Some(at_most_one(rows).and_then(|row| {
        row.as_ref()
            .map(|row| usage::usage_with_totals(&SqlRow::Postgres(row)))
            .transpose()
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::FreshDatabase;
    use super::*;

    /// The keys drive the join (one probe each) on a table never analyzed, in the custom plan
    /// and in the generic one a connection switches to after five runs.
    #[test]
    fn a_batch_probes_its_keys_whatever_the_statistics() {
        let Some(db) = FreshDatabase::create() else { return };
        let mut client = db.connect();
        super::super::migrate(&mut client).unwrap();
        client
            .batch_execute("ALTER TABLE registrations SET (autovacuum_enabled = false)")
            .unwrap();
        let shops: Vec<String> = (0..10_000).map(|i| format!("{:06}", i % 50)).collect();
        let invoices: Vec<String> = (0..10_000).map(|i| format!("I{i}")).collect();
        for mode in ["force_custom_plan", "force_generic_plan"] {
            client.batch_execute(&format!("SET plan_cache_mode = {mode}")).unwrap();
            let explain = format!("EXPLAIN {}", *LOAD_REGISTRATIONS);
            let plan: Vec<String> = client
                .query(explain.as_str(), &[&1001_i64, &"live", &shops, &invoices])
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            // The join's first child (the next node line) is its outer side.
            let join = plan.iter().position(|l| l.contains("Nested Loop"));
            let outer = join.and_then(|j| plan[j + 1..].iter().find(|l| l.trim_start().starts_with("->")));
            assert!(
                outer.is_some_and(|l| l.contains("Function Scan")),
                "{mode}: the keys do not drive the join:\n{}",
                plan.join("\n")
            );
        }
    }
}
