//! Storage: the only module that knows SQL, over two engines behind one interface. SQLite
//! (`sqlite/`) is the embedded default; PostgreSQL (`pg/`) lets several gateway instances share
//! one database. Ingest, query and the API see only what is here: a `Store` that runs work in a
//! transaction (`write`, `read`), the `Tx` that work gets, and the functions that take it. A
//! query the engines agree on is written once (`sql.rs`: one statement in `$n` placeholders, its
//! arguments, its rows read by column; `batches.rs`, `v3.rs`, `usage.rs`'s lists); where their
//! SQL really differs (bulk writes, a batch's locked reads), the function has an arm per engine
//! (`on_engine!`). The engine is a match away, never a type outside.
//! Every function here blocks: callers run it on a blocking thread, never on the async executor.

mod audit;
mod backups;
mod batches;
mod copy;
mod credentials;
pub mod pg;
mod refused;
mod sql;
pub mod sqlite;
mod usage;
mod v3;
mod v3_id;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use audit::{insert_audit, list_audit};
pub use backups::{BackupReport, backup_database, last_backup, restore_database};
pub use batches::{
    activity_since, day_summaries, find_any_batch, find_batch, find_trail, insert_batch, invoice_shops, last_batches,
    list_batches, prune_batches, reset_tenant, stored_scopes,
};
pub use copy::{CopyReport, copy_to_postgres};
pub use credentials::{credential_uses, keep_credential_use};
pub use refused::{insert_refusal, list_refusals, refusals_since};
use sql::{Arg, Sql};
pub use sqlite::RestoreReport;
pub use v3::{
    Listing, MOTOR_CLUBS, V3_REGISTRATIONS, V3IdOwner, cancel_motor_club, insert_motor_club,
    replace_motor_club_customer, set_v3_extras, v3_id_owner,
};
pub use v3_id::V3Id;

use crate::config::Database;
use crate::ledger::{RegistrationKey, StoredRegistration};
use crate::records::{Action, FiledUnder, Record, RecordKind};
use crate::scope::Scope;
use crate::status::RegistrationUsage;
use crate::wire::Kind;

/// The complete schema the SQLite migrations produce (to read, and for the test that they
/// agree; the PostgreSQL migrations make the same tables and columns).
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// How long a request waits for a database connection (PostgreSQL's pool) before it is told to
/// come back later (503): an outage or a flood never hangs a request.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// What went wrong in the store, in terms that carry no engine's types. Each variant says its
/// cause in its own message (the database's words: a PostgreSQL error's message and SQLSTATE)
/// and exposes no `source`, so a chain printed with `{:#}` says each cause once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A storage fault (a full disk, a busy or unreachable database): nothing was written, and
    /// the same request may succeed later.
    #[error("{reason}: {}", chain(&**cause))]
    Unavailable {
        reason: &'static str,
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another transaction changed what this one read (a serialization failure, a deadlock, a
    /// registration another instance stored meanwhile): running the work again gets it right.
    #[error("a concurrent transaction was in the way: {}", chain(&**.0))]
    Conflict(Box<dyn std::error::Error + Send + Sync>),
    /// Any other database error: a bug, neither the client's nor the disk's.
    #[error("database error: {}", chain(&**.0))]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// What the operator must set right before a command can run (a file in the way, a URL that
    /// does not parse, a certificate the database's TLS refused), said as it is.
    #[error("{0}")]
    Setup(String),
    #[error("cannot create the database folder {path}: {cause}")]
    Folder { path: PathBuf, cause: std::io::Error },
    #[error("the database was made by a newer warranty-gateway ({found}); run a newer build")]
    SchemaTooNew { found: String },
    #[error("migrating the database: {}", chain(.0))]
    Migration(refinery::Error),
}

/// An error and its causes on one line (`a: b: c`), each said once: a cause whose words its
/// error already quotes is not repeated. A PostgreSQL error says the server's message and
/// SQLSTATE (`database "x" does not exist (3D000)`), never a bare "db error"; a migration that
/// failed in the database says which migration step, then why.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let (text, source) = if let Some(pg) = err.downcast_ref::<postgres::Error>() {
            (pg::reason(pg), None)
        } else if let Some(refinery::error::Kind::Connection(step, cause)) =
            err.downcast_ref::<refinery::Error>().map(refinery::Error::kind)
        {
            (step.clone(), Some(&**cause as &(dyn std::error::Error + 'static)))
        } else {
            (err.to_string(), err.source())
        };
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = source;
    }
    out
}

impl StoreError {
    /// Why the database cannot take a request now, when that is what went wrong.
    pub fn unavailable(&self) -> Option<&'static str> {
        match self {
            StoreError::Unavailable { reason, .. } => Some(reason),
            // Still in the way after the retries: the client's retry will find it gone.
            StoreError::Conflict(_) => Some("the database is busy with the same registrations"),
            _ => None,
        }
    }

    fn conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

/// A migration applied to a database, for the log and `warranty-gateway migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i32,
    pub name: String,
}

/// As its file is named: `V16__schema_compatibility`.
impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V{}__{}", self.version, self.name)
    }
}

/// What bringing a database to this build's schema did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// This build's migrations applied now, oldest first.
    pub applied: Vec<Applied>,
    /// Migrations a newer build applied that this build does not know, and which its database
    /// says this build may serve on ([`COMPATIBILITY_TABLE`]): in a rolling upgrade, an instance
    /// not upgraded yet.
    pub newer: Vec<Applied>,
}

/// One line per thing migrating did: the migrations just applied (none: nothing), or the newer
/// build's schema this build serves on.
pub(crate) fn log_migrated(migrated: &Migrated) {
    if let Some(newest) = migrated.newer.last() {
        let ours = latest_migration();
        tracing::warn!(
            database = %newest,
            build = %ours,
            "the database was migrated by a newer build, whose schema lets this one serve it: upgrade this instance"
        );
    }
    let applied = &migrated.applied;
    let (Some(first), Some(last)) = (applied.first(), applied.last()) else {
        return;
    };
    let names: Vec<String> = applied.iter().map(Applied::to_string).collect();
    tracing::info!(
        from = first.version,
        to = last.version,
        migrations = %names.join(", "),
        "database migrated to V{} ({} applied)",
        last.version,
        applied.len()
    );
}

/// The newest migration this build knows (both engines have the same numbers).
pub fn latest_migration() -> Applied {
    static LATEST: LazyLock<Applied> = LazyLock::new(sqlite::latest_migration);
    LATEST.clone()
}

/// The first error of type `C` among `e`'s causes: what an engine's driver said, under the
/// migration runner's error.
fn cause<C: std::error::Error + 'static>(e: &refinery::Error) -> Option<&C> {
    std::iter::successors(std::error::Error::source(e), |err| err.source()).find_map(|err| err.downcast_ref::<C>())
}

/// Runs migrations with `run`, again (after `pause(attempt)`) while `retry` says another
/// process was in the way, and says what was applied. A database whose applied migrations this
/// build does not have was migrated by a newer build: refused.
fn run_migrations(
    mut run: impl FnMut() -> Result<refinery::Report, refinery::Error>,
    retry: impl Fn(&refinery::Error) -> bool,
    pause: impl Fn(u32) -> Duration,
) -> Result<Vec<Applied>, StoreError> {
    const ATTEMPTS: u32 = 50;
    let mut attempt = 0;
    loop {
        match run() {
            Ok(report) => {
                return Ok(report
                    .applied_migrations()
                    .iter()
                    .map(|m| Applied {
                        version: m.version(),
                        name: m.name().to_owned(),
                    })
                    .collect());
            }
            Err(e) if attempt < ATTEMPTS && retry(&e) => {
                attempt += 1;
                std::thread::sleep(pause(attempt));
            }
            Err(e) => {
                return Err(match e.kind() {
                    refinery::error::Kind::MissingVersion(m) => StoreError::SchemaTooNew {
                        found: format!("its migration {m} is unknown to this build"),
                    },
                    _ => StoreError::Migration(e),
                });
            }
        }
    }
}

/// How a database's schema stands against this build's, read without changing anything
/// (`warranty-gateway check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// The newest migration applied to it; none for a new or empty database, or one from
    /// before migrations.
    pub latest: Option<Applied>,
    /// This build's migrations it lacks, oldest first: serve (or `migrate`) applies them.
    pub pending: Vec<Applied>,
    /// A newer build's migrations it has, oldest first, which this build may serve on (see
    /// [`Migrated::newer`]).
    pub newer: Vec<Applied>,
}

/// The migration history's table (refinery's default name).
const HISTORY_TABLE: &str = "refinery_schema_history";
/// Which builds may serve a database (migration V16): those that know its one row's
/// `needs_migration`. A migration older builds cannot serve on sets it to its own version.
const COMPATIBILITY_TABLE: &str = "schema_compatibility";
/// The statement that reads it.
const NEEDS_MIGRATION: &str = "SELECT CAST(needs_migration AS BIGINT) AS needs_migration FROM schema_compatibility";

/// `applied` (a database's history) against `ours` (this build's migrations): what serve would
/// apply, or why it would refuse the database, as migrating says it. A database with
/// migrations this build does not know is served when it has all of this build's and it
/// `needs` (its [`COMPATIBILITY_TABLE`]) no migration newer than this build's newest.
fn schema_against(
    ours: &[refinery::Migration],
    applied: &[refinery::Migration],
    needs: Option<i64>,
) -> Result<SchemaState, StoreError> {
    let named = |m: &refinery::Migration| Applied {
        version: m.version(),
        name: m.name().to_owned(),
    };
    let our_newest = ours.iter().map(|m| m.version()).max().unwrap_or(0);
    let mut newer = Vec::new();
    for a in applied {
        match ours.iter().find(|m| m.version() == a.version()) {
            // A newer build's, which lets this one serve: in a rolling upgrade.
            None if a.version() > our_newest && needs.is_some_and(|needs| needs <= i64::from(our_newest)) => {
                newer.push(named(a));
            }
            None => {
                // Named: the migration that said older builds may not serve, when it is one.
                let (a, why) = match needs {
                    Some(needs) if a.version() > our_newest => (
                        applied.iter().find(|m| i64::from(m.version()) == needs).unwrap_or(a),
                        format!(", and only builds that know V{needs} may serve it"),
                    ),
                    _ => (a, String::new()),
                };
                return Err(StoreError::SchemaTooNew {
                    found: format!("its migration {a} is unknown to this build{why}"),
                });
            }
            // A name or checksum of its own: the file was changed after it was applied.
            Some(m) if m != a => {
                return Err(StoreError::Setup(format!(
                    "the database's migration {a} is not this build's {m} (its name or checksum differs): migrating refuses it"
                )));
            }
            Some(_) => {}
        }
    }
    let mut pending: Vec<Applied> = ours
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version() == m.version()))
        .map(named)
        .collect();
    pending.sort_by_key(|m| m.version);
    if let (Some(unknown), Some(missing)) = (newer.first(), pending.first()) {
        // Not one line of history: a newer build's migrations without some of this build's.
        return Err(StoreError::SchemaTooNew {
            found: format!("its migration {unknown} is unknown to this build, and it lacks this build's {missing}"),
        });
    }
    newer.sort_by_key(|m| m.version);
    Ok(SchemaState {
        latest: applied.iter().max_by_key(|m| m.version()).map(named),
        pending,
        newer,
    })
}

/// What migrating did, when `ran` (the migrations run) found migrations this build does not
/// know: the database's `state` says whether this build may serve it all the same.
fn migrated_or_newer(
    ran: Result<Vec<Applied>, StoreError>,
    state: impl FnOnce() -> Result<SchemaState, StoreError>,
) -> Result<Migrated, StoreError> {
    match ran {
        Ok(applied) => Ok(Migrated {
            applied,
            newer: Vec::new(),
        }),
        Err(too_new @ StoreError::SchemaTooNew { .. }) => match state()? {
            SchemaState { newer, .. } if !newer.is_empty() => Ok(Migrated {
                applied: Vec::new(),
                newer,
            }),
            _ => Err(too_new),
        },
        Err(e) => Err(e),
    }
}

/// The newest migration applied to the database (none before the first): on a running server,
/// a newer build's once one has migrated it (a rolling upgrade).
pub fn newest_migration(tx: &Tx) -> Result<Option<Applied>, StoreError> {
    let newest = "SELECT CAST(version AS BIGINT) AS version, name FROM refinery_schema_history \
                  ORDER BY version DESC LIMIT 1";
    tx.row(newest, &[], |row| {
        let version = row.int("version")?;
        Ok(Applied {
            version: i32::try_from(version)
                .map_err(|_| StoreError::Database(format!("a migration's version is {version}").into()))?,
            name: row.text("name")?,
        })
    })
}

/// The migration a build must know to serve a database once this build has migrated it: what
/// its migrations leave in [`COMPATIBILITY_TABLE`] (on either engine; a test holds them equal).
/// A database now at migration `L` can be migrated while the instances of a build at `L` go on
/// serving when this is at most `L`.
pub fn needs_migration() -> Result<i32, StoreError> {
    sqlite::needs_migration()
}

/// The schema state of the database a config names, read without migrating it or making it
/// (`warranty-gateway check`). An SQLite file that does not exist yet has no migration.
pub fn schema_state(database: &Database) -> Result<SchemaState, StoreError> {
    match database {
        Database::Sqlite { path } => sqlite::schema_state(path),
        Database::Postgres { url, .. } => pg::schema_state(url),
    }
}

/// The PostgreSQL server's settings an answered batch's durability rests on (`check`); `None`
/// on SQLite, where the gateway sets its own (synchronous=FULL).
pub fn durability(database: &Database) -> Result<Option<pg::Durability>, StoreError> {
    match database {
        Database::Sqlite { .. } => Ok(None),
        Database::Postgres { url, .. } => pg::durability(url).map(Some),
    }
}

/// Runs the read `f` in one snapshot of the database a config names, without migrating it or
/// making it (`check`, `partners`): `None`, and nothing run, when there is no database yet or
/// its schema is from before `table`.
pub fn read_existing<R>(
    database: &Database,
    table: &str,
    f: impl FnOnce(&Tx) -> Result<R, StoreError>,
) -> Result<Option<R>, StoreError> {
    match database {
        Database::Sqlite { path } => sqlite::read_file_with(path, table, f),
        Database::Postgres { url, .. } => pg::read_url_with(url, table, f),
    }
}

/// The newest backup `backup` recorded in the database a config names, read without migrating
/// it (`check`): `None` before the first, and on PostgreSQL, which its own tools back up.
pub fn recorded_backup(database: &Database) -> Result<Option<crate::model::backup::Backup>, StoreError> {
    match database {
        Database::Sqlite { .. } => Ok(read_existing(database, "backups", last_backup)?.flatten()),
        Database::Postgres { .. } => Ok(None),
    }
}

/// Migrates the database a config names without serving it (`warranty-gateway migrate`, for
/// deploy pipelines); answers what it did.
pub fn migrate(database: &Database) -> Result<Migrated, StoreError> {
    match database {
        Database::Sqlite { path } => sqlite::migrate_database(path),
        Database::Postgres { url, .. } => pg::migrate_url(url),
    }
}

/// An error that may be the store's: lets the store notice storage faults whatever error type
/// the work it runs returns.
pub trait StoreFailure {
    fn store_error(&self) -> Option<&StoreError>;
}

impl StoreFailure for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

/// A transaction, as the work that `Store::write` and `Store::read` run sees it: the store's
/// functions take it; nothing outside the store sees the engine's.
pub struct Tx<'t, 'c>(Engine<'t, 'c>);

/// A transaction on one engine or the other.
enum Engine<'t, 'c> {
    Sqlite(&'t rusqlite::Connection),
    Postgres(&'t RefCell<pg::PgTx<'c>>),
}

/// The database, on one engine or the other.
#[derive(Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(pg::PgStore),
}

impl Store {
    /// Opens the database a config names (an SQLite file is made if need be) and migrates it
    /// to this build's schema.
    pub fn open(database: &Database) -> Result<Store, StoreError> {
        Ok(match database {
            Database::Sqlite { path } => Store::Sqlite(sqlite::SqliteStore::open(path)?),
            Database::Postgres { url, pool_size } => Store::Postgres(pg::PgStore::open(url, *pool_size)?),
        })
    }

    /// Runs `f` in one write transaction and commits it durably before answering; an error
    /// from `f` rolls everything back. `f` may run more than once: when another transaction
    /// was in the way (PostgreSQL's serialization failures and deadlocks), the work runs again
    /// from the start, invisibly to the client.
    pub fn write<R, E>(&self, f: impl FnMut(&Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError> + StoreFailure,
    {
        match self {
            Store::Sqlite(s) => s.write(f),
            Store::Postgres(s) => s.write(f),
        }
    }

    /// Which engine it is, as operators name it.
    pub fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgresql",
        }
    }

    /// Runs `f` in one read-only transaction (one consistent snapshot).
    pub fn read<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        match self {
            Store::Sqlite(s) => s.read(f),
            Store::Postgres(s) => s.read(f),
        }
    }

    /// Runs `f`, a read of exactly one statement: as [`Store::read`], but without BEGIN and
    /// COMMIT (a statement is its own snapshot); PostgreSQL refuses a second statement.
    pub fn read_one<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        match self {
            Store::Sqlite(s) => s.read_one(f),
            Store::Postgres(s) => s.read_one(f),
        }
    }

    /// Whether a read answers at once, without waiting on anything: SQLite's reads are
    /// snapshot reads of a local file (WAL: never behind the writer) on connections of their
    /// own, so a handler may run a point read on its own thread rather than hand it to the
    /// blocking pool (the hop cost more than the read). PostgreSQL's wait on the network.
    pub fn reads_without_waiting(&self) -> bool {
        matches!(self, Store::Sqlite(_))
    }

    /// For a store whose reads wait on a pool of connections (PostgreSQL): the permits, one per
    /// connection, a read takes before it leaves the async executor. Requests beyond the pool
    /// wait here, without a thread each, rather than on the pool's lock.
    pub fn read_permits(&self) -> Option<&tokio::sync::Semaphore> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.read_permits()),
        }
    }

    /// Whether the database can be read and take writes now; else why not.
    pub fn health(&self) -> Result<(), &'static str> {
        match self {
            Store::Sqlite(s) => s.health(),
            Store::Postgres(s) => s.health(),
        }
    }

    /// What the database occupies on disk, in bytes, when that can be measured.
    pub fn size_bytes(&self) -> Option<u64> {
        match self {
            Store::Sqlite(s) => Some(s.size_bytes()),
            Store::Postgres(s) => s.size_bytes(),
        }
    }

    /// At shutdown: SQLite copies its WAL into the database file, so the file stands on its
    /// own; PostgreSQL has nothing to do. Answers whether there was something to do.
    pub fn checkpoint(&self) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.checkpoint().map(|()| true),
            Store::Postgres(_) => Ok(false),
        }
    }
}

/// Runs the engine's version of a store function on the transaction it is given.
macro_rules! on_engine {
    ($tx:expr, $f:ident ( $($arg:expr),* )) => {
        match &$tx.0 {
            $crate::store::Engine::Sqlite(conn) => sqlite::$f(conn, $($arg),*),
            $crate::store::Engine::Postgres(t) => pg::$f(&mut t.borrow_mut(), $($arg),*),
        }
    };
}
use on_engine;

/// The time a batch's rows are stamped with (created_at, updated_at): made once per batch,
/// with the form each engine stores.
#[derive(Debug, Clone)]
pub struct Stamp {
    at: DateTime<Utc>,
    text: String,
}

impl Stamp {
    pub fn of(at: &DateTime<Utc>) -> Stamp {
        Stamp {
            at: *at,
            text: sqlite::db_date(at),
        }
    }
}

/// What an upsert did to one record's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A new row, with its id.
    Inserted(i64),
    /// A stored row, changed. (Its id is not asked for: the batch knew it when it read the
    /// registration.)
    Updated,
    /// A stored row, left as it was.
    Unchanged,
}

impl Written {
    /// From the row an upsert answered (`id, revision`), none when it changed nothing.
    fn from_row(row: Option<(i64, i64)>) -> Written {
        match row {
            None => Written::Unchanged,
            Some((id, 1)) => Written::Inserted(id),
            Some(_) => Written::Updated,
        }
    }

    /// A row that was stored already: updated if `changed`.
    fn stored(changed: bool) -> Written {
        if changed { Written::Updated } else { Written::Unchanged }
    }

    /// The result's `action`.
    pub fn action(self) -> Action {
        match self {
            Written::Inserted(_) => Action::Inserted,
            Written::Updated => Action::Updated,
            Written::Unchanged => Action::Unchanged,
        }
    }
}

/// A record to write, and the registration it is filed against (claims and cancellations).
pub type Pending<'r, T> = (Option<i64>, &'r T);

/// Inserts each record, or updates the stored one with its natural key, in the order given (a
/// key that comes twice is written twice, the later last); answers what each write did, in the
/// same order.
pub fn upsert_all<T: Record>(
    tx: &Tx,
    scope: Scope,
    rows: &[Pending<T>],
    now: &Stamp,
) -> Result<Vec<Written>, StoreError> {
    on_engine!(tx, upsert_all(scope, rows, now))
}

/// Every registration with one of these keys (ShopID, InvoiceNumber), with its claims and its
/// cancellation: all a batch's rules need, in a few statements whatever the batch's size. In a
/// write, the registrations are locked until it commits (PostgreSQL: `FOR UPDATE`, in id
/// order), so two batches judging the same registration take turns.
pub fn load_registrations(
    tx: &Tx,
    scope: Scope,
    keys: &[RegistrationKey],
) -> Result<Vec<StoredRegistration>, StoreError> {
    let mut found = on_engine!(tx, load_registrations(scope, keys))?;
    if found.is_empty() {
        return Ok(found);
    }
    // Then the claims and the cancellations of those found, in one statement each.
    let at: HashMap<i64, usize> = found
        .iter()
        .enumerate()
        .map(|(i, r)| (r.usage.registration_id, i))
        .collect();
    let ids: Vec<i64> = at.keys().copied().collect();
    for (id, claim) in tx.rows(&*usage::CLAIMS_OF, &[Arg::Ids(&ids)], usage::claim_of)? {
        found[at[&id]].add_claim(claim);
    }
    let cancellation = |row: &sql::Row| Ok((row.int(0)?, usage::cancellation_of(row, 1)?));
    for (id, cancel) in tx.rows(&*usage::CANCELLATIONS_OF, &[Arg::Ids(&ids)], cancellation)? {
        found[at[&id]].add_cancellation(cancel);
    }
    Ok(found)
}

/// Where a registration that `scope` does not have under (ShopID, InvoiceNumber) is instead:
/// the shops of `scope` that have its InvoiceNumber (the first `most`, in ShopID order), and
/// whether the partner's other tenant has it under both. Two probes of the registrations' key,
/// which leads with InvoiceNumber.
pub fn registration_elsewhere(
    tx: &Tx,
    scope: Scope,
    filed: &FiledUnder,
    most: usize,
) -> Result<(Vec<String>, bool), StoreError> {
    let shops = tx.rows(
        "SELECT shop_id FROM registrations WHERE invoice_number = $1 AND partner_id = $2 AND tenant = $3 \
         ORDER BY shop_id LIMIT $4",
        &[
            Arg::Text(&filed.invoice_number),
            Arg::Int(scope.partner_id),
            Arg::Text(scope.tenant.into_str()),
            sql::count_arg(most)?,
        ],
        |row| row.text("shop_id"),
    )?;
    let other = scope.other_tenant();
    let in_other = tx.row(
        "SELECT shop_id FROM registrations WHERE invoice_number = $1 AND shop_id = $2 AND partner_id = $3 \
         AND tenant = $4",
        &[
            Arg::Text(&filed.invoice_number),
            Arg::Text(&filed.shop_id),
            Arg::Int(other.partner_id),
            Arg::Text(other.tenant.into_str()),
        ],
        |row| row.text("shop_id"),
    )?;
    Ok((shops, in_other.is_some()))
}

/// A registration (by ShopID and InvoiceNumber, optionally narrowed by OrgID) with the totals
/// of its claims and cancellations.
pub fn registration_usage(
    tx: &Tx,
    scope: Scope,
    shop_id: &str,
    invoice_number: &str,
    org_id: Option<&str>,
) -> Result<Option<RegistrationUsage>, StoreError> {
    if unmatchable([shop_id, invoice_number].into_iter().chain(org_id)) {
        return Ok(None);
    }
    let args = [
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Text(shop_id),
        Arg::Text(invoice_number),
        Arg::OptText(org_id),
    ];
    tx.row(&*usage::REGISTRATION_USAGE, &args, usage::usage_with_totals)
}

impl Store {
    /// [`registration_usage`] awaited without leaving the executor, where this store can (on
    /// PostgreSQL reached directly: each worker's own connections); `None` where it cannot
    /// (SQLite reads inline anyway; a pooler), and the caller takes [`Store::read_one`].
    pub async fn registration_usage_now(
        &self,
        scope: Scope,
        shop_id: &str,
        invoice_number: &str,
        org_id: Option<&str>,
    ) -> Option<Result<Option<RegistrationUsage>, StoreError>> {
        let Store::Postgres(store) = self else { return None };
        if !store.readers().on() {
            return None;
        }
        if unmatchable([shop_id, invoice_number].into_iter().chain(org_id)) {
            return Some(Ok(None));
        }
        pg::registration_usage_now(store.readers(), scope, shop_id, invoice_number, org_id).await
    }
}

/// A client of the PostgreSQL database `url` names, TLS as its parameters say: for the tests and
/// tools that read the database beside the gateway (a TLS-only server takes nothing else).
#[doc(hidden)]
pub fn postgres_client(url: &str) -> Result<postgres::Client, StoreError> {
    pg::connect(url)
}

/// Whether a key the client sent can match nothing: stored text never holds a control
/// character (every decoder refuses them), and PostgreSQL cannot even be asked about a NUL.
/// Such a key finds nothing, on either engine, rather than failing.
fn unmatchable<'k>(keys: impl IntoIterator<Item = &'k str>) -> bool {
    keys.into_iter().any(|k| crate::wire::control_character(k).is_some())
}

/// How a GET names records: by shop and invoice, optionally narrowed by OrgID.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub shop_id: String,
    pub invoice_number: String,
    pub org_id: Option<String>,
}

/// The records of one kind a GET names, in the order they were first stored.
pub fn find<T: Record>(tx: &Tx, scope: Scope, key: &Lookup) -> Result<Vec<T>, StoreError> {
    if unmatchable(
        [key.shop_id.as_str(), key.invoice_number.as_str()]
            .into_iter()
            .chain(key.org_id.as_deref()),
    ) {
        return Ok(Vec::new());
    }
    let args = [
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Text(&key.shop_id),
        Arg::Text(&key.invoice_number),
        Arg::OptText(key.org_id.as_deref()),
    ];
    tx.rows(find_sql(T::KIND), &args, |row| row.record(0))
}

/// The GET lookup of a kind's records by ShopID and InvoiceNumber (and OrgID when given).
fn find_sql(kind: RecordKind) -> &'static Sql {
    static SELECT: LazyLock<[Sql; 4]> = LazyLock::new(|| {
        RecordKind::ALL.map(|kind| {
            Sql::new(format!(
                "SELECT {} FROM {} WHERE partner_id = $1 AND tenant = $2 AND shop_id = $3 \
                 AND invoice_number = $4 AND (CAST($5 AS TEXT) IS NULL OR org_id = $5) ORDER BY id",
                stored_columns(kind).join(", "),
                table(kind)
            ))
        })
    });
    &SELECT[kind.index()]
}

/// A tenant's records of one kind whose own date (PlanEnrollDate, SaleDate, ClaimDate or
/// CancelDate) is at or after `from` and before `until`, first stored first: a page of at most
/// `limit` of them after the row `after` (0 for the first page), each with its row id (the
/// next page's `after`). By row id rather than OFFSET: each page starts where the last ended.
pub fn dated_records<T: Record>(
    tx: &Tx,
    scope: Scope,
    dated: (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, T)>, StoreError> {
    let args = dated_page_args(scope, dated, after, limit)?;
    tx.rows(dated_sql(T::KIND), &args, |row| Ok((row.int(0)?, row.record(1)?)))
}

/// [`dated_records`]'s statement for a kind.
fn dated_sql(kind: RecordKind) -> &'static Sql {
    static SELECT: LazyLock<[Sql; 4]> = LazyLock::new(|| {
        RecordKind::ALL.map(|kind| {
            let columns = format!("id, {}", stored_columns(kind).join(", "));
            dated_page(&columns, (table(kind), "t"), "", own_date_column(kind))
        })
    });
    &SELECT[kind.index()]
}

/// The stored column of a kind's own date.
fn own_date_column(kind: RecordKind) -> &'static str {
    let date = kind.own_date().map(|at| kind.columns()[at]);
    date.expect("every record kind has a date of its own (a unit test checks)")
}

/// A page of a tenant's rows of `table` (named `alias`, and `joins` joined to it): `columns` of
/// those whose `date` lies from $3 to before $4, in id order after the id $5, at most $6 (the
/// tenant is $1 and $2). Read in id order from where the last page ended to its end, a whole
/// export is one pass over the table. SQLite would rather take the tenant's rows by its invoice
/// index and sort them, for every page: it is told not to (NOT INDEXED leaves it the rowid).
fn dated_page(columns: &str, (table, alias): (&str, &str), joins: &str, date: &str) -> Sql {
    let select = |hint: &str| {
        format!(
            "SELECT {columns} FROM {table} {alias}{hint} {joins} WHERE {alias}.partner_id = $1 \
             AND {alias}.tenant = $2 AND {alias}.{date} >= $3 AND {alias}.{date} < $4 AND {alias}.id > $5 \
             ORDER BY {alias}.id LIMIT $6"
        )
    };
    Sql::each(select(""), select(" NOT INDEXED"))
}

/// [`dated_page`]'s arguments, in its order.
fn dated_page_args(
    scope: Scope,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: u32,
) -> Result<[Arg<'static>; 6], StoreError> {
    Ok([
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Date(from),
        Arg::Date(until),
        Arg::Int(after),
        sql::count_arg(limit)?,
    ])
}

/// The usage of a tenant's registrations whose PlanEnrollDate lies in `dated` (from, until:
/// until excluded), first stored first: a page of at most `limit` after the registration
/// `after`, as [`dated_records`] pages them (a page's last `registration_id` is the next
/// page's `after`). With the usage, each registration's status at any time is known.
pub fn dated_registration_usage(
    tx: &Tx,
    scope: Scope,
    dated: (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: u32,
) -> Result<Vec<RegistrationUsage>, StoreError> {
    static SELECT: LazyLock<Sql> = LazyLock::new(|| {
        let date = own_date_column(RecordKind::Registrations);
        dated_page(&usage::USAGE, ("registrations", "r"), usage::USAGE_JOINS, date)
    });
    let args = dated_page_args(scope, dated, after, limit)?;
    tx.rows(&*SELECT, &args, usage::usage_with_totals)
}

/// The migration a build must know to serve the database, as it stands now: the health
/// check's read, for [`may_serve`].
pub fn needs_now(tx: &Tx) -> Result<Option<i64>, StoreError> {
    tx.row(NEEDS_MIGRATION, &[], |row| row.int("needs_migration"))
}

/// Whether this build may serve a database whose [`COMPATIBILITY_TABLE`] `needs` a build to know
/// that migration. A newer build may have migrated it since this one started, to a schema it
/// says older builds cannot serve on: an instance left on the old build is then unavailable
/// (its health check a 503, so a load balancer stops sending to it) until it is upgraded.
/// [`may_serve`] for a write: refused (a 503; the client's retry reaches an instance that may),
/// nothing written, when this build may not serve the database now. Each write transaction asks
/// it first, so an instance left on an old build writes nothing a newer schema would misread,
/// whether or not a load balancer checks its health.
pub(crate) fn may_write(needs: Option<i64>) -> Result<(), StoreError> {
    may_serve(needs).map_err(|reason| StoreError::Unavailable {
        reason,
        cause: format!("only builds that know V{} may serve it", needs.unwrap_or_default()).into(),
    })
}

pub(crate) fn may_serve(needs: Option<i64>) -> Result<(), &'static str> {
    match needs {
        Some(needs) if needs > i64::from(latest_migration().version) => {
            Err("a newer build migrated the database to a schema this build may not serve: upgrade this instance")
        }
        _ => Ok(()),
    }
}

// The names both engines' SQL is made from, derived from the record declarations.

/// A record kind's table.
fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Registrations => "registrations",
        RecordKind::Sales => "sales",
        RecordKind::Claims => "claims",
        RecordKind::Cancellations => "cancellations",
    }
}

/// A value made once per record kind (its statements, its columns), the first time one is
/// asked for.
pub(super) struct PerKind<T: 'static>(LazyLock<[T; 4]>);

impl<T> PerKind<T> {
    pub(super) const fn new(make: fn() -> [T; 4]) -> PerKind<T> {
        PerKind(LazyLock::new(make))
    }

    pub(super) fn of(&'static self, kind: RecordKind) -> &'static T {
        &self.0[kind.index()]
    }
}

/// Each kind's [`columns`], made once.
fn stored_columns(kind: RecordKind) -> &'static [String] {
    static COLUMNS: PerKind<Vec<String>> = PerKind::new(|| RecordKind::ALL.map(columns));
    COLUMNS.of(kind)
}

/// The columns a write of a kind sends, in order: `registration_id` for claims and
/// cancellations, then the fields'; its key columns; and the columns not in the key, which an
/// update may change.
pub(super) struct WriteColumns {
    pub all: Vec<String>,
    pub key: Vec<String>,
    pub changing: Vec<String>,
}

pub(super) fn write_columns(kind: RecordKind) -> WriteColumns {
    let key = key_columns(kind);
    let mut all = Vec::new();
    if kind.belongs_to_registration() {
        all.push("registration_id".to_owned());
    }
    all.extend(columns(kind));
    let changing = all.iter().filter(|c| !key.contains(c)).cloned().collect();
    WriteColumns { all, key, changing }
}

/// The row of a statement meant to answer one row or none.
pub(super) fn at_most_one<T>(mut rows: Vec<T>) -> Result<Option<T>, StoreError> {
    if rows.len() > 1 {
        return Err(StoreError::Database(
            format!("a statement meant to answer one row answered {}", rows.len()).into(),
        ));
    }
    Ok(rows.pop())
}

/// The stored columns of a kind's fields, in declaration order: a field's Rust name, and
/// money columns say their unit (`tpp_price_cents`).
fn columns(kind: RecordKind) -> Vec<String> {
    kind.fields()
        .iter()
        .zip(kind.columns())
        .map(|(spec, column)| match spec.kind {
            Kind::Money => format!("{column}_cents"),
            _ => (*column).to_owned(),
        })
        .collect()
}

/// The columns of a kind's natural key (after partner and tenant), in key order.
fn key_columns(kind: RecordKind) -> Vec<String> {
    let fields = columns(kind);
    kind.key_at().iter().map(|&i| fields[i].clone()).collect()
}

/// The columns of a batch's counts: `registrations_accepted, registrations_rejected, ...`, in
/// processing order.
fn count_columns() -> Vec<String> {
    RecordKind::ALL
        .iter()
        .flat_map(|k| {
            let name = k.name().to_ascii_lowercase();
            [format!("{name}_accepted"), format!("{name}_rejected")]
        })
        .collect()
}

/// The tables of a tenant's data, in an order they can be emptied in (claims and
/// cancellations reference registrations; v3's motor-club registrations; the history last).
fn tenant_tables() -> impl Iterator<Item = &'static str> {
    let (children, parents): (Vec<RecordKind>, Vec<RecordKind>) =
        RecordKind::ALL.into_iter().partition(|k| k.belongs_to_registration());
    children
        .into_iter()
        .chain(parents)
        .map(table)
        .chain(["motor_club_registrations", "batches"])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed with anyhow's `{:#}` (as start-up failures and 500s are), each cause comes once.
    #[test]
    fn an_error_chain_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let e = StoreError::Unavailable {
            reason: "the disk is full",
            cause: Box::new(io),
        };
        let said = format!("{:#}", anyhow::Error::new(e).context("writing the batch"));
        assert_eq!(said, "writing the batch: the disk is full: No space left on device");
    }
}
