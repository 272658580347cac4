//! `warranty-gateway copy-data --to URL`: an SQLite database, whole, into an empty PostgreSQL
//! one, for the day a single box is outgrown. Every table of ours with its ids (registration
//! ids, batch ids), read in one SQLite snapshot (the server may keep serving) and written in one
//! PostgreSQL transaction (all or nothing); the target's id sequences then continue after the
//! copied ids.

use std::path::Path;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use rusqlite::types::Value as SqlValue;

use super::StoreError;

/// The tables, parents before the rows that reference them. Not `backups`: the SQLite file's
/// backups are none of the PostgreSQL database's.
const TABLES: [&str; 12] = [
    "registrations",
    "sales",
    "claims",
    "cancellations",
    "motor_club_registrations",
    "batches",
    "batch_rejections",
    "batch_rejection_counts",
    "batch_records",
    "ops_audit",
    "refused_requests",
    "credential_uses",
];
/// Rows per INSERT: one statement of arrays per chunk.
const CHUNK: usize = 5_000;

/// How many rows of each table were copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, usize)>,
}

/// One column of a chunk, as the array it is sent as (by the column's PostgreSQL type).
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Time(Vec<Option<DateTime<Utc>>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    fn of(pg_type: &str) -> Result<(Column, &'static str), StoreError> {
        Ok(match pg_type {
            "bigint" | "integer" => (Column::Int(Vec::new()), "int8"),
            "text" => (Column::Text(Vec::new()), "text"),
            "timestamp with time zone" => (Column::Time(Vec::new()), "timestamptz"),
            "boolean" => (Column::Bool(Vec::new()), "bool"),
            other => {
                return Err(StoreError::Database(
                    format!("no copy for a column of type {other}").into(),
                ));
            }
        })
    }

    fn push(&mut self, table: &str, column: &str, value: SqlValue) -> Result<(), StoreError> {
        let bad = |v: &SqlValue| StoreError::Database(format!("{table}.{column}: cannot copy {v:?}").into());
        match (self, value) {
            (Column::Int(a), SqlValue::Null) => a.push(None),
            (Column::Int(a), SqlValue::Integer(n)) => a.push(Some(n)),
            (Column::Text(a), SqlValue::Null) => a.push(None),
            (Column::Text(a), SqlValue::Text(t)) => a.push(Some(t)),
            (Column::Bool(a), SqlValue::Null) => a.push(None),
            (Column::Bool(a), SqlValue::Integer(n)) => a.push(Some(n != 0)),
            (Column::Time(a), SqlValue::Null) => a.push(None),
            (Column::Time(a), SqlValue::Text(t)) => {
                let at = DateTime::parse_from_rfc3339(&t).map_err(|_| bad(&SqlValue::Text(t.clone())))?;
                a.push(Some(at.with_timezone(&Utc)));
            }
            (_, v) => return Err(bad(&v)),
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(a) => a,
            Column::Text(a) => a,
            Column::Time(a) => a,
            Column::Bool(a) => a,
        }
    }

    fn clear(&mut self) {
        match self {
            Column::Int(a) => a.clear(),
            Column::Text(a) => a.clear(),
            Column::Time(a) => a.clear(),
            Column::Bool(a) => a.clear(),
        }
    }
}

/// Copies the SQLite database at `from` into the empty PostgreSQL database `to` names (migrated
/// first to this build's schema). Refuses a target that holds any record or batch, and a source
/// that is not at this build's schema.
pub fn copy_to_postgres(from: &Path, to: &str) -> Result<CopyReport, StoreError> {
    if !from.exists() {
        return Err(StoreError::Database(
            format!("there is no database at {}", from.display()).into(),
        ));
    }
    let mut source = rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    // The source must be at this build's schema (its columns are the target's).
    let applied: Option<i32> = source
        .query_row("SELECT max(version) FROM refinery_schema_history", [], |r| r.get(0))
        .map_err(|_| {
            StoreError::Database(
                format!(
                    "{} is not at this build's schema: run `warranty-gateway migrate` on it first",
                    from.display()
                )
                .into(),
            )
        })?;
    let latest = super::latest_migration().version;
    if let Some(newer) = applied.filter(|&applied| applied > latest) {
        return Err(StoreError::Setup(format!(
            "{} was migrated by a newer warranty-gateway (V{newer}; this build's schema is V{latest}): copy with that build",
            from.display()
        )));
    }
    if applied != Some(latest) {
        return Err(StoreError::Database(
            format!(
                "{} is at schema V{} and this build's is V{latest}: run `warranty-gateway migrate` on it first",
                from.display(),
                applied.unwrap_or(0)
            )
            .into(),
        ));
    }
    // A newer build's schema may have tables this build would leave empty.
    if let Some(newer) = super::pg::migrate_url(to)?.newer.last() {
        return Err(StoreError::Setup(format!(
            "the target database was migrated by a newer warranty-gateway ({newer}): copy with that build"
        )));
    }
    let mut target = super::pg::connect(to)?;
    let mut t = target.transaction()?;
    for table in TABLES {
        let holds: bool = t
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])?
            .try_get(0)?;
        if holds {
            return Err(StoreError::Database(
                format!(
                    "the target database is not empty (its {table} table has rows); copy-data only fills an empty one"
                )
                .into(),
            ));
        }
    }
    // One read snapshot of the source for every table.
    let snapshot = source.transaction()?;
    let mut report = CopyReport { tables: Vec::new() };
    for table in TABLES {
        let columns: Vec<(String, String)> = t
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let mut arrays: Vec<Column> = Vec::new();
        let mut types: Vec<&str> = Vec::new();
        for (_, ty) in &columns {
            let (column, cast) = Column::of(ty)?;
            arrays.push(column);
            types.push(cast);
        }
        let insert = format!(
            "INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays})",
            cols = names.join(", "),
            arrays = types
                .iter()
                .enumerate()
                .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let mut stmt = snapshot.prepare(&format!("SELECT {} FROM {table} ORDER BY 1", names.join(", ")))?;
        let mut rows = stmt.query([])?;
        let (mut copied, mut pending) = (0, 0);
        let flush = |arrays: &mut Vec<Column>, t: &mut postgres::Transaction| -> Result<(), StoreError> {
            let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(Column::param).collect();
            t.execute(insert.as_str(), &params)?;
            arrays.iter_mut().for_each(Column::clear);
            Ok(())
        };
        while let Some(row) = rows.next()? {
            for (i, array) in arrays.iter_mut().enumerate() {
                array.push(table, names[i], row.get::<_, SqlValue>(i)?)?;
            }
            pending += 1;
            copied += 1;
            if pending == CHUNK {
                flush(&mut arrays, &mut t)?;
                pending = 0;
            }
        }
        if pending > 0 {
            flush(&mut arrays, &mut t)?;
        }
        if names.contains(&"id") {
            // New rows get ids after the copied ones, and after any SQLite gave and deleted
            // since (its AUTOINCREMENT tables keep the highest in sqlite_sequence): a batch id
            // never names two uploads.
            let given: i64 = snapshot.query_row(
                "SELECT COALESCE(max(seq), 0) FROM sqlite_sequence WHERE name = ?1",
                [table],
                |r| r.get(0),
            )?;
            t.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     GREATEST(COALESCE((SELECT max(id) FROM {table}), 0), $1) + 1, false)"
                ),
                &[&given],
            )?;
        }
        report.tables.push((table, copied));
    }
    t.commit()?;
    Ok(report)
}
