//! A query written once for both engines: its SQL in PostgreSQL's `$n` placeholders (SQLite
//! gets the same text with `?n`), its arguments as [`Arg`]s, its rows read by column name
//! through [`Row`]. Where the engines' SQL really differs (upserts, arrays, set-based writes),
//! the store function has an engine arm instead.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, Value as SqliteValue};

use super::{Engine, StoreError, Tx, at_most_one, pg, sqlite};
use crate::records::{OwnedValue, Record};
use crate::wire::Kind;

/// A statement's argument, as both engines take it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    /// SQLite keeps a date as RFC 3339 text (it sorts as the time does), PostgreSQL as
    /// TIMESTAMPTZ.
    Date(DateTime<Utc>),
    OptDate(Option<DateTime<Utc>>),
    /// A set of row ids, for a statement's `{ids}` ([`Sql::with_ids`]): a BIGINT array to
    /// PostgreSQL, a JSON array to SQLite.
    Ids(&'a [i64]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(n) => ToSqlOutput::from(*n),
            Arg::OptInt(Some(n)) => ToSqlOutput::from(*n),
            Arg::OptInt(None) | Arg::OptDate(None) => ToSqlOutput::Owned(SqliteValue::Null),
            Arg::OptDate(Some(d)) => ToSqlOutput::Owned(SqliteValue::Text(sqlite::db_date(d))),
            Arg::Text(s) => ToSqlOutput::from(*s),
            Arg::OptText(Some(s)) => ToSqlOutput::from(*s),
            Arg::OptText(None) => ToSqlOutput::Owned(SqliteValue::Null),
            Arg::Date(d) => ToSqlOutput::Owned(SqliteValue::Text(sqlite::db_date(d))),
            Arg::Ids(ids) => ToSqlOutput::Owned(SqliteValue::Text(
                serde_json::to_string(ids).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            )),
        })
    }
}

impl Arg<'_> {
    fn pg(&self) -> &dyn pg::Param {
        match self {
            Arg::Int(n) => n,
            Arg::OptInt(n) => n,
            Arg::OptDate(d) => d,
            Arg::Text(s) => s,
            Arg::OptText(s) => s,
            Arg::Date(d) => d,
            Arg::Ids(ids) => ids,
        }
    }
}

/// A count as stored (BIGINT, INTEGER): a number past i64 is an error, never wrapped.
pub(super) fn stored_count(n: impl TryInto<i64>) -> Result<i64, StoreError> {
    n.try_into()
        .map_err(|_| StoreError::Database("a count too large to store".into()))
}

/// [`stored_count`] as an argument.
pub(super) fn count_arg(n: impl TryInto<i64>) -> Result<Arg<'static>, StoreError> {
    stored_count(n).map(Arg::Int)
}

/// A statement run often, with SQLite's form of it made once beside it.
pub(super) struct Sql {
    postgres: String,
    sqlite: String,
}

impl Sql {
    pub(super) fn new(postgres: String) -> Sql {
        let sqlite = sqlite_sql(&postgres).into_owned();
        Sql { postgres, sqlite }
    }

    /// A statement where the engines' SQL differs, in each engine's words (both with `$n`
    /// placeholders).
    pub(super) fn each(postgres: String, sqlite: String) -> Sql {
        let sqlite = sqlite_sql(&sqlite).into_owned();
        Sql { postgres, sqlite }
    }

    /// A statement whose `{ids}` is "one of the ids in $1" ([`Arg::Ids`]), as each engine
    /// says it: `= ANY($1)` in PostgreSQL, `IN (SELECT value FROM json_each(?1))` in SQLite.
    pub(super) fn with_ids(template: &str) -> Sql {
        Sql::each(
            template.replace("{ids}", "= ANY($1)"),
            template.replace("{ids}", "IN (SELECT value FROM json_each($1))"),
        )
    }
}

/// A statement as each engine takes it: a one-off text (SQLite's form made as it runs) or a
/// [`Sql`] (made once).
pub(super) trait Statement {
    fn for_postgres(&self) -> &str;
    fn for_sqlite(&self) -> Cow<'_, str>;
}

impl Statement for str {
    fn for_postgres(&self) -> &str {
        self
    }
    fn for_sqlite(&self) -> Cow<'_, str> {
        sqlite_sql(self)
    }
}

impl Statement for String {
    fn for_postgres(&self) -> &str {
        self
    }
    fn for_sqlite(&self) -> Cow<'_, str> {
        sqlite_sql(self)
    }
}

impl Statement for Sql {
    fn for_postgres(&self) -> &str {
        &self.postgres
    }
    fn for_sqlite(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.sqlite)
    }
}

/// One row of a result, on either engine, read by column name (or by position, where a list of
/// columns made the statement).
pub(super) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

/// A column of a row: its name, or its position.
pub(super) trait Col: rusqlite::RowIndex + tokio_postgres::row::RowIndex + fmt::Display + Copy {}

impl<C: rusqlite::RowIndex + tokio_postgres::row::RowIndex + fmt::Display + Copy> Col for C {}

impl Row<'_> {
    /// A value both drivers read the same way.
    fn get<T>(&self, column: impl Col) -> Result<T, StoreError>
    where
        T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
    {
        Ok(match self {
            Row::Sqlite(row) => row.get(column)?,
            Row::Postgres(row) => row.try_get(column)?,
        })
    }

    pub(super) fn int(&self, column: impl Col) -> Result<i64, StoreError> {
        self.get(column)
    }

    pub(super) fn opt_int(&self, column: impl Col) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }

    /// An HTTP status (a batch's answer).
    pub(super) fn http_status(&self, column: impl Col) -> Result<StatusCode, StoreError> {
        let n = self.int(column)?;
        u16::try_from(n)
            .ok()
            .and_then(|n| StatusCode::from_u16(n).ok())
            .ok_or_else(|| StoreError::Database(format!("a stored {column} is not an HTTP status: {n}").into()))
    }

    /// A count: never negative.
    pub(super) fn count(&self, column: impl Col) -> Result<u64, StoreError> {
        let n = self.int(column)?;
        u64::try_from(n).map_err(|_| StoreError::Database(format!("a stored {column} is negative: {n}").into()))
    }

    pub(super) fn text(&self, column: impl Col) -> Result<String, StoreError> {
        self.get(column)
    }

    pub(super) fn opt_text(&self, column: impl Col) -> Result<Option<String>, StoreError> {
        self.get(column)
    }

    pub(super) fn flag(&self, column: impl Col) -> Result<bool, StoreError> {
        self.get(column)
    }

    pub(super) fn date(&self, column: impl Col) -> Result<DateTime<Utc>, StoreError> {
        Ok(match self {
            Row::Sqlite(row) => sqlite::get_date(row, column.idx(row.as_ref())?)?,
            Row::Postgres(row) => row.try_get(column)?,
        })
    }

    pub(super) fn opt_date(&self, column: impl Col) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(match self {
            Row::Sqlite(row) => sqlite::get_opt_date(row, column.idx(row.as_ref())?)?,
            Row::Postgres(row) => row.try_get(column)?,
        })
    }

    /// A record of the guide from its stored columns (`stored_columns`, in that order) from
    /// position `first` on, each read as its kind is stored. By position: the statement was made
    /// from the same list, and a name looked up per column per row cost more than the read.
    pub(super) fn record<T: Record>(&self, first: usize) -> Result<T, StoreError> {
        let values = T::FIELDS
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let at = first + i;
                Ok(match spec.kind {
                    Kind::Text(_) => OwnedValue::Text(self.text(at)?),
                    Kind::Int { .. } | Kind::Money => OwnedValue::Number(self.opt_int(at)?),
                    Kind::Date => OwnedValue::Date(self.opt_date(at)?),
                    Kind::Flag => OwnedValue::Flag(self.flag(at)?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        T::from_values(values)
            .ok_or_else(|| StoreError::Database(format!("a stored {} does not fit its declaration", T::NAME).into()))
    }
}

/// SQLite's form of a statement: each `$n` as `?n`.
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

impl Tx<'_, '_> {
    /// Every row of `sql`, each read by `read`.
    pub(super) fn rows<T>(
        &self,
        sql: &(impl Statement + ?Sized),
        args: &[Arg],
        mut read: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        match &self.0 {
            Engine::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(&sql.for_sqlite())?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
                while let Some(row) = rows.next()? {
                    out.push(read(&Row::Sqlite(row))?);
                }
            }
            Engine::Postgres(t) => {
                let params: Vec<&dyn pg::Param> = args.iter().map(Arg::pg).collect();
                for row in t.borrow_mut().query(sql.for_postgres(), &params)? {
                    out.push(read(&Row::Postgres(&row))?);
                }
            }
        }
        Ok(out)
    }

    /// One page (from 1) of a list: `select`'s rows `from` (a `FROM ... WHERE ...` of `args`,
    /// `$1`...) in `order`, each read by `read`; and how many rows there are in all.
    pub(super) fn page<T>(
        &self,
        select: &str,
        from: &str,
        order: &str,
        args: &[Arg],
        (page, page_size): (u32, u32),
        read: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<(u64, Vec<T>), StoreError> {
        let total = self
            .row(&format!("SELECT count(*) AS total {from}"), args, |row| {
                row.count("total")
            })?
            .unwrap_or(0);
        let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
        let mut paged = args.to_vec();
        paged.extend([Arg::Int(page_size.into()), Arg::Int(offset)]);
        let (limit, skip) = (args.len() + 1, args.len() + 2);
        let sql = format!("{select} {from} ORDER BY {order} LIMIT ${limit} OFFSET ${skip}");
        Ok((total, self.rows(&sql, &paged, read)?))
    }

    /// The row of `sql` meant to answer one or none, read by `read`.
    pub(super) fn row<T>(
        &self,
        sql: &(impl Statement + ?Sized),
        args: &[Arg],
        read: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        at_most_one(self.rows(sql, args, read)?)
    }

    /// Runs `sql`: how many rows it wrote.
    pub(super) fn execute(&self, sql: &(impl Statement + ?Sized), args: &[Arg]) -> Result<u64, StoreError> {
        Ok(match &self.0 {
            Engine::Sqlite(conn) => conn
                .prepare_cached(&sql.for_sqlite())?
                .execute(rusqlite::params_from_iter(args))? as u64,
            Engine::Postgres(t) => {
                let params: Vec<&dyn pg::Param> = args.iter().map(Arg::pg).collect();
                t.borrow_mut().execute(sql.for_postgres(), &params)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_numbered_as_postgres_ones() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '$' AND e = $2"),
            "SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '$' AND e = ?2"
        );
        assert!(matches!(sqlite_sql("SELECT 1"), Cow::Borrowed(_)));
    }
}
