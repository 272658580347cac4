//! PostgreSQL: several gateway instances on one database. A pool of connections (`pool_size`
//! per instance); each POST one READ COMMITTED transaction that locks the registrations it
//! judges (`FOR UPDATE`, in id order) and writes each record type in set-based statements; a
//! serialization failure or deadlock runs the transaction again. The schema is the numbered
//! migrations in migrations/postgres/: the same tables and columns as SQLite's.
//! The SQL stays portable to the PostgreSQL-compatible distributed engines, and works behind a
//! pooler in transaction mode (PgBouncer's default for many instances): no temporary tables, no
//! advisory locks, no startup options, nothing of a transaction outliving it (the statement
//! timeout is set per transaction; statements are unnamed, but for the reads of a connection
//! that reaches the server itself, connection.rs).

mod batches;
mod connection;
mod reader;
mod records;
pub(crate) mod url;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use postgres::Row;
use postgres::types::{ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

pub(super) use batches::*;
use connection::{ConnectError, PgConnection};
pub(super) use records::*;

use super::{Applied, Engine, StoreError, StoreFailure, Tx};
use crate::telemetry::escaped;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Why PostgreSQL cannot take a request now, when the error is a fault of the database or the
/// way to it (a 503 the client retries), not a bug: the connection is gone or refused, the
/// server is shutting down or out of resources, a serialization failure or deadlock.
fn storage_fault(e: &postgres::Error) -> Option<&'static str> {
    use postgres::error::SqlState;
    if e.is_closed() {
        return Some("the database connection is closed");
    }
    let Some(code) = e.code() else {
        // No SQLSTATE: the server was not reached (refused, timed out, reset), or a value did
        // not convert (a bug, not a fault).
        let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
        let text = e.to_string();
        let unreached = ["error connecting", "error communicating", "timeout"]
            .iter()
            .any(|p| text.starts_with(p));
        return (io || unreached).then_some("the database cannot be reached");
    };
    let class = &code.code()[..2];
    Some(match class {
        "08" => "the database connection failed",
        // statement_timeout: the database did not answer in time.
        "57" if *code == SqlState::QUERY_CANCELED => "the database did not answer in time",
        "53" => "the database is out of resources (disk, memory or connections)",
        "57" => "the database is shutting down or was restarted",
        "58" => "the database has a system error",
        _ => return None,
    })
}

/// A PostgreSQL error in the server's words, its message and SQLSTATE (`database "x" does not
/// exist (3D000)`) and detail; or, when the server was not reached or refused the TLS, the
/// driver's words and their causes (`error connecting to server: Connection refused`).
pub(super) fn reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut said = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            said.push_str("; ");
            said.push_str(detail);
        }
        return said;
    }
    let mut said = e.to_string();
    for cause in std::iter::successors(std::error::Error::source(e), |cause| cause.source()) {
        let text = cause.to_string();
        if !said.contains(&text) {
            said.push_str(": ");
            said.push_str(&text);
        }
    }
    said
}

/// Whether another transaction was in the way: running the same work again gets it right.
fn conflict(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code()
        .is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if conflict(&e) {
            return StoreError::Conflict(Box::new(e));
        }
        match storage_fault(&e) {
            Some(reason) => StoreError::Unavailable {
                reason,
                cause: Box::new(e),
            },
            None => StoreError::Database(Box::new(e)),
        }
    }
}

/// How long a request waits for a connection, and a statement for the database, before the
/// client is told to come back later (503): an outage never hangs a request.
const CONNECT_TIMEOUT: Duration = super::CONNECTION_WAIT;
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a write runs again when another transaction was in the way.
const CONFLICT_RETRIES: u32 = 8;

/// The connection settings of a URL and its TLS, with this engine's timeouts (a URL's own win).
fn connection_config(url: &str) -> Result<url::Target, StoreError> {
    let mut target = url::parse(url).map_err(|e| StoreError::Setup(format!("database.url: {e}")))?;
    let config = &mut target.config;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("warranty-gateway");
    }
    // A database gone silent (a network black hole) is found out within about half a minute:
    // data unacknowledged for 30 s, or an idle connection unanswered for 10 + 3 × 5 s.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(30));
    Ok(target)
}

/// One connection to the database a URL names, with this engine's timeouts. A certificate the
/// URL's TLS refuses is named with what it was checked against.
pub(super) fn connect(url: &str) -> Result<postgres::Client, StoreError> {
    connect_to(&connection_config(url)?)
}

/// One connection to `target`; a refused certificate named as [`connect`] says.
fn connect_to(target: &url::Target) -> Result<postgres::Client, StoreError> {
    postgres::Config::from(target.config.clone())
        .connect(target.tls.clone())
        .map_err(|e| not_connected(target, e))
}

/// Why a connection to `target` was not made: a certificate its TLS refused, named with what it
/// was checked against, or the driver's error as the store classes it.
fn not_connected(target: &url::Target, e: postgres::Error) -> StoreError {
    match url::tls_refusal(&e) {
        Some(reason) => {
            let check = target.certificate_check();
            StoreError::Setup(format!("the database server's TLS was refused: {reason} ({check})"))
        }
        None => StoreError::from(e),
    }
}

/// Connects to the database a URL names and migrates it (`warranty-gateway migrate`).
pub fn migrate_url(url: &str) -> Result<super::Migrated, StoreError> {
    migrate_to_serve(&mut connect(url)?)
}

/// [`super::schema_state`] of the database a URL names, over the simple protocol (as
/// migrations run, so through a pooler too); changes nothing.
pub(super) fn schema_state(url: &str) -> Result<super::SchemaState, StoreError> {
    schema_of(&mut connect(url)?)
}

/// [`super::read_existing`] on PostgreSQL: one read-only snapshot, on a connection of its own.
pub(super) fn read_url_with<R>(
    url: &str,
    table: &str,
    f: impl FnOnce(&Tx) -> Result<R, StoreError>,
) -> Result<Option<R>, StoreError> {
    let target = connection_config(url)?;
    let mut conn = PgConnection::open(&target.config, &target.tls, CONNECT_TIMEOUT).map_err(|e| match e {
        ConnectError::Database(e) => not_connected(&target, e),
        ConnectError::Io(_) => StoreError::Unavailable {
            reason: "the database cannot be reached",
            cause: Box::new(e),
        },
    })?;
    if !has_table(&mut conn, table)? {
        return Ok(None);
    }
    in_transaction(&mut conn, "REPEATABLE READ", true, STATEMENT_TIMEOUT, f).map(Some)
}

/// `f` in one transaction on `conn` (as [`PgTx::begin`] starts it), committed when it succeeds.
fn in_transaction<R, E: From<StoreError>>(
    conn: &mut PgConnection,
    isolation: &str,
    read_only: bool,
    timeout: Duration,
    f: impl FnOnce(&Tx) -> Result<R, E>,
) -> Result<R, E> {
    let t = RefCell::new(PgTx::begin(conn, isolation, read_only, timeout)?);
    let out = f(&Tx(Engine::Postgres(&t)))?;
    t.into_inner().commit()?;
    Ok(out)
}

/// [`super::schema_state`] of the database a connection reaches.
fn schema_of(client: &mut impl SimpleSql) -> Result<super::SchemaState, StoreError> {
    let runner = embedded::migrations::runner();
    let applied = match has_table(client, super::HISTORY_TABLE)? {
        true => runner
            .get_applied_migrations(&mut SimpleProtocol(client))
            .map_err(StoreError::Migration)?,
        false => Vec::new(),
    };
    let needs = match has_table(client, super::COMPATIBILITY_TABLE)? {
        true => needs_of(client, super::NEEDS_MIGRATION)?,
        false => None,
    };
    super::schema_against(runner.get_migrations(), &applied, needs)
}

/// The first row `sql` answers, its columns as text (NULL: `None`), over the simple protocol;
/// none when it answers no row.
fn first_row(conn: &mut impl SimpleSql, sql: &str) -> Result<Vec<Option<String>>, StoreError> {
    let row = conn.simple_query(sql)?.into_iter().find_map(|message| match message {
        postgres::SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
        _ => None,
    });
    Ok(row.unwrap_or_default())
}

/// The first column of [`first_row`].
fn first_value(conn: &mut impl SimpleSql, sql: &str) -> Result<Option<String>, StoreError> {
    Ok(first_row(conn, sql)?.into_iter().next().flatten())
}

/// The compatibility row's `needs_migration`, the first value `sql` answers.
fn needs_of(conn: &mut impl SimpleSql, sql: &str) -> Result<Option<i64>, StoreError> {
    let needs = first_value(conn, sql)?.map(|needs| needs.parse::<i64>()).transpose();
    needs.map_err(|e| StoreError::Database(Box::new(e)))
}

/// Whether the database has a table of this name.
fn has_table(conn: &mut impl SimpleSql, name: &str) -> Result<bool, StoreError> {
    let exists = first_value(conn, &format!("SELECT to_regclass('{name}') IS NOT NULL"))?;
    Ok(exists.as_deref() == Some("t"))
}

/// The server's settings that an answered batch's durability rests on, as the gateway's
/// sessions on its database see them (the server's, the database's and the role's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// Whether the server flushes what it writes to disk at all.
    pub fsync: bool,
    /// Whether a page half-written when the server's machine fails can be repaired.
    pub full_page_writes: bool,
    /// `off`: a commit is answered before its WAL is flushed; a crash of the server's machine
    /// loses the last such commits. The gateway's writes set it on for themselves then
    /// ([`PgTx::begin`]).
    pub synchronous_commit: String,
}

impl Durability {
    fn read(conn: &mut impl SimpleSql) -> Result<Durability, StoreError> {
        let row = first_row(
            conn,
            // missing_ok: an engine that speaks PostgreSQL without one of these settings (the
            // distributed ones) answers NULL, read as not off.
            "SELECT current_setting('fsync', true), current_setting('full_page_writes', true), \
             current_setting('synchronous_commit', true)",
        )?;
        let setting = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok(Durability {
            fsync: setting(0) != "off",
            full_page_writes: setting(1) != "off",
            synchronous_commit: setting(2),
        })
    }

    /// Whether the gateway's writes set synchronous_commit on for themselves.
    pub fn commits_asynchronously(&self) -> bool {
        self.synchronous_commit == "off"
    }

    /// What an operator must be told: settings under which a batch answered 200 may be lost
    /// when the database server's machine fails, which the gateway cannot set for itself.
    pub fn warnings(&self) -> Vec<String> {
        let mut said = Vec::new();
        if !self.fsync {
            said.push(
                "PostgreSQL's fsync is off: what it writes may never reach the disk, and a crash of its \
                 machine can lose batches the gateway answered 200 and corrupt the database; set fsync = on"
                    .to_owned(),
            );
        }
        if !self.full_page_writes {
            said.push(
                "PostgreSQL's full_page_writes is off: a crash of its machine can leave pages half written \
                 that recovery cannot repair; set full_page_writes = on"
                    .to_owned(),
            );
        }
        said
    }
}

/// [`Durability`] of the database a URL names (`check`), over the simple protocol.
pub(super) fn durability(url: &str) -> Result<Durability, StoreError> {
    Durability::read(&mut connect(url)?)
}

/// A pooled connection, and when it was last handed back to the pool.
pub struct Pooled {
    conn: PgConnection,
    returned: Instant,
}

/// A connection handed back to the pool less than this long ago is handed out again without
/// a round trip to check it: under load that check was one of a lookup's five round trips.
/// One that sat idle longer (across a database restart, say) is checked first.
const CHECK_WHEN_IDLE: Duration = Duration::from_secs(1);

/// Makes and checks the pool's connections.
struct Connections {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
}

impl r2d2::ManageConnection for Connections {
    type Connection = Pooled;
    type Error = ConnectError;

    fn connect(&self) -> Result<Pooled, ConnectError> {
        Ok(Pooled {
            conn: PgConnection::open(&self.config, &self.tls, CONNECT_TIMEOUT)?,
            returned: Instant::now(),
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), ConnectError> {
        if pooled.returned.elapsed() < CHECK_WHEN_IDLE {
            return Ok(());
        }
        pooled.conn.simple_query("").map(|_| ()).map_err(ConnectError::Database)
    }

    /// Called as each connection comes back to the pool.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.returned = Instant::now();
        pooled.conn.is_closed()
    }
}

type Pool = r2d2::Pool<Connections>;

/// What the store's PostgreSQL functions run their statements on: a transaction, or for a read
/// of one statement the connection itself (one statement sees one snapshot; BEGIN and COMMIT
/// would be two more round trips).
///
/// In a transaction every statement is the extended protocol's unnamed one, its parameters'
/// types sent with it: parse, bind and execute in one round trip, and nothing left on the
/// server. A read of one statement is prepared once per connection when the connection reaches
/// PostgreSQL directly (`PgConnection::prepared`); through a pooler it is unnamed too: a named
/// statement outlives its transaction on the server connection, which a pooler in transaction
/// mode hands to someone else, who would find it missing (26000), find another process's
/// statement of the same name (42P05), or bind to a different query.
pub struct PgTx<'c> {
    conn: &'c mut PgConnection,
    /// BEGIN was sent: ROLLBACK on drop unless committed.
    open: bool,
    /// Outside a transaction: whether the one statement allowed has run.
    ran: Option<bool>,
}

type Params<'p> = &'p [&'p dyn Param];

/// A statement parameter whose PostgreSQL type is known from its Rust type alone (the first of
/// [`PARAM_TYPES`] the driver's `ToSql` accepts), since an unnamed statement sends its types.
pub(super) trait Param: ToSql + Sync {
    fn pg_type(&self) -> Option<Type>;
}

/// The types our parameters have, scalars and arrays; a Rust type the driver encodes as several
/// (a `&str` as TEXT, VARCHAR...) gets the first.
const PARAM_TYPES: [Type; 18] = [
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::TEXT,
    Type::BOOL,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMP,
    Type::DATE,
    Type::FLOAT8,
    Type::BYTEA,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::TEXT_ARRAY,
    Type::BOOL_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
    Type::TIMESTAMP_ARRAY,
    Type::DATE_ARRAY,
    Type::FLOAT8_ARRAY,
];

impl<T: ToSql + Sync> Param for T {
    fn pg_type(&self) -> Option<Type> {
        PARAM_TYPES.iter().find(|t| T::accepts(t)).cloned()
    }
}

impl<'c> PgTx<'c> {
    /// Starts a transaction on `client`, its statement timeout with it (SET LOCAL: it ends with
    /// the transaction), in one round trip.
    /// A write, to be on disk when it is answered, sets synchronous_commit on for itself where
    /// the session's is off (a stronger one, `remote_apply`, is left as it is). Asked of each
    /// session in the same round trip: behind a pooler, sessions made before and after the
    /// database's default changed may differ. A write reads in it too whether this build may
    /// still serve the database ([`super::may_write`]).
    fn begin(
        conn: &'c mut PgConnection,
        isolation: &str,
        read_only: bool,
        timeout: Duration,
    ) -> Result<PgTx<'c>, StoreError> {
        let t = PgTx {
            conn,
            open: true,
            ran: None,
        };
        let access = if read_only { "READ ONLY" } else { "READ WRITE" };
        let timeout = timeout.as_millis();
        let begin =
            format!("START TRANSACTION ISOLATION LEVEL {isolation}, {access}; SET LOCAL statement_timeout = {timeout}");
        if read_only {
            t.conn.batch_execute(&begin)?;
            return Ok(t);
        }
        // The compatibility row is the first row answered.
        let needs = needs_of(
            t.conn,
            &format!(
                "{begin}; {}; SELECT set_config('synchronous_commit', 'on', true) \
                 WHERE current_setting('synchronous_commit', true) = 'off'",
                super::NEEDS_MIGRATION
            ),
        )?;
        super::may_write(needs)?;
        Ok(t)
    }

    /// No transaction: one statement may run, its own snapshot.
    fn one_statement(conn: &'c mut PgConnection) -> PgTx<'c> {
        PgTx {
            conn,
            open: false,
            ran: Some(false),
        }
    }

    /// Runs `sql`: its rows, and how many rows it wrote. In a transaction as the unnamed
    /// statement; a read of one statement prepared when the connection allows.
    fn run(&mut self, sql: &str, params: Params) -> Result<(Vec<Row>, u64), StoreError> {
        let alone = match &mut self.ran {
            Some(ran) => {
                one_statement(ran)?;
                true
            }
            None => false,
        };
        let typed = params
            .iter()
            .map(|p| {
                p.pg_type().map(|t| (*p as &(dyn ToSql + Sync), t)).ok_or_else(|| {
                    StoreError::Database(format!("a parameter of {sql:?} has a type with no PostgreSQL type").into())
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if alone {
            self.conn.prepared(sql, &typed)?
        } else {
            self.conn.unnamed(sql, &typed)?
        })
    }

    pub(super) fn query(&mut self, sql: &str, params: Params) -> Result<Vec<Row>, StoreError> {
        Ok(self.run(sql, params)?.0)
    }

    pub(super) fn execute(&mut self, sql: &str, params: Params) -> Result<u64, StoreError> {
        Ok(self.run(sql, params)?.1)
    }

    fn commit(mut self) -> Result<(), StoreError> {
        if std::mem::replace(&mut self.open, false) {
            self.conn.batch_execute("COMMIT")?;
        }
        Ok(())
    }
}

/// A transaction not committed (an error, a panic) is rolled back before its connection goes
/// back to the pool.
impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_closed() {
            let _ = self.conn.batch_execute("ROLLBACK");
        }
    }
}

/// A read of one statement running a second would read two snapshots: a bug, refused.
fn one_statement(ran: &mut bool) -> Result<(), StoreError> {
    if std::mem::replace(ran, true) {
        return Err(StoreError::Database(
            "a read of one statement ran a second: it must run in a transaction".into(),
        ));
    }
    Ok(())
}

pub struct PgStore {
    /// Always `Some` but in `drop`.
    pool: Option<Pool>,
    statement_timeout: Duration,
    read_permits: tokio::sync::Semaphore,
    /// Each HTTP worker's own connections, for lookups that need not leave the executor.
    readers: reader::Readers,
}

/// The driver's connections run their own small runtime, which may not be shut down on an
/// async executor's thread (where the last handle of a store may be dropped): the pool goes
/// on a thread of its own.
impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// r2d2's own errors (no connection within the timeout) say why in their text only.
fn no_connection(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable {
        reason: "the database cannot be reached",
        cause: Box::new(e),
    }
}

/// Pool errors go to our log, not to r2d2's default (the `log` crate).
#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<ConnectError> for LogPoolErrors {
    fn handle_error(&self, error: ConnectError) {
        tracing::warn!(error = ?escaped(&error), "a database connection failed");
    }
}

/// The kernel's autogroup switch (Linux): with it on, each session is a scheduling group of its
/// own, sharing the CPUs equally with every other group.
const AUTOGROUP: &str = "/proc/sys/kernel/sched_autogroup_enabled";

/// Whether the database's hosts are all this machine (loopback, `localhost`, a Unix socket).
fn on_this_host(hosts: &[tokio_postgres::config::Host]) -> bool {
    use tokio_postgres::config::Host;
    !hosts.is_empty()
        && hosts.iter().all(|host| match host {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

/// What to tell the operator when PostgreSQL shares this machine with the gateway and the
/// kernel's autogroup is on (`autogroup` is the switch's file, as read). PostgreSQL starts each
/// backend in a session of its own, so each is a group of its own, weighing as much as the whole
/// gateway: under load a busy backend waits to be run for hundreds of milliseconds at a time
/// (perf sched measured 204 ms on the benchmark's 2-core machine; wrk saw lookups of over 2 s),
/// and every lookup sent to it waits as long. With the switch off the same load's p99 was 3 ms.
fn scheduler_advice(on_this_host: bool, autogroup: &str) -> Option<String> {
    (on_this_host && autogroup.trim() == "1").then(|| {
        "PostgreSQL runs on this machine and the kernel's autogroup is on \
         (kernel.sched_autogroup_enabled = 1): each PostgreSQL backend is a scheduling group of its \
         own, and under load one can wait hundreds of milliseconds to run, and every lookup sent to \
         it as long. Set kernel.sched_autogroup_enabled = 0 (sysctl), as PostgreSQL hosts are tuned"
            .to_owned()
    })
}

impl PgStore {
    /// Connects (a pool of up to `pool_size`) and migrates the database to this build's schema.
    pub fn open(url: &str, pool_size: u32) -> Result<PgStore, StoreError> {
        // One connection first: a refused certificate or a wrong password is said at once, with
        // its reason, rather than after the pool's retries.
        let target = connection_config(url)?;
        drop(connect_to(&target)?);
        PgStore::open_config(target.config, target.tls, pool_size, STATEMENT_TIMEOUT)
    }

    fn open_config(
        config: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        pool_size: u32,
        statement_timeout: Duration,
    ) -> Result<PgStore, StoreError> {
        let on_this_host = on_this_host(config.get_hosts());
        let readers = reader::Readers::new(config.clone(), tls.clone(), CONNECT_TIMEOUT, statement_timeout);
        let manager = Connections { config, tls };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            // A connection the database closed (a restart) is found out before a request gets
            // it, when it sat idle (Connections::is_valid).
            .test_on_check_out(true)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(manager);
        let store = PgStore {
            pool: Some(pool),
            statement_timeout,
            read_permits: tokio::sync::Semaphore::new(pool_size.max(1) as usize),
            readers,
        };
        let mut conn = store.connection()?;
        crate::store::log_migrated(&migrate_to_serve(&mut conn.conn)?);
        let durability = Durability::read(&mut conn.conn)?;
        for warning in durability.warnings() {
            tracing::warn!("{warning}");
        }
        if durability.commits_asynchronously() {
            tracing::info!(
                "the database's synchronous_commit is off: the gateway's writes set it on for themselves, \
                 so that every batch answered 200 is on disk"
            );
        }
        if conn.conn.direct() {
            tracing::info!("the database is reached directly: each connection prepares its lookups once");
        } else {
            tracing::info!(
                "the database is reached through a pooler or proxy (or a Unix socket): every statement is sent unnamed, nothing prepared"
            );
        }
        drop(conn);
        let autogroup = std::fs::read_to_string(AUTOGROUP).unwrap_or_default();
        if let Some(advice) = scheduler_advice(on_this_host, &autogroup) {
            tracing::warn!("{advice}");
        }
        Ok(store)
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Connections>, StoreError> {
        self.pool
            .as_ref()
            .expect("the pool lives as long as the store")
            .get()
            .map_err(no_connection)
    }

    /// One READ COMMITTED transaction per attempt; run again (up to `CONFLICT_RETRIES` times,
    /// with a growing, jittered pause) when another transaction was in the way.
    pub fn write<R, E>(&self, mut f: impl FnMut(&Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError> + StoreFailure,
    {
        let mut attempt = 0;
        loop {
            let done = self.transaction("READ COMMITTED", false, &mut f);
            if attempt < CONFLICT_RETRIES
                && let Err(e) = &done
                && let Some(conflict) = e.store_error().filter(|e| e.conflict())
            {
                attempt += 1;
                tracing::debug!(attempt, error = ?escaped(conflict), "write conflict; running again");
                std::thread::sleep(backoff(attempt));
                continue;
            }
            return done;
        }
    }

    fn transaction<R, E>(&self, isolation: &str, read_only: bool, f: impl FnOnce(&Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.connection()?;
        in_transaction(&mut conn.conn, isolation, read_only, self.statement_timeout, f)
    }

    /// One REPEATABLE READ read-only transaction: one snapshot for all its statements.
    pub fn read<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.transaction("REPEATABLE READ", true, f)
    }

    /// A read of one statement, on the connection without a transaction: the statement is its
    /// own snapshot. A second statement is refused. It has no statement timeout: a SET would
    /// outlive it on the server connection, and a cancel request as this driver sends it (closing
    /// before the server does) crashes PgBouncer 1.18 (its bug #801). It is one index probe;
    /// a database gone silent is found out by the TCP timeouts.
    pub fn read_one<R>(&self, f: impl FnOnce(&Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let mut conn = self.connection()?;
        let t = RefCell::new(PgTx::one_statement(&mut conn.conn));
        f(&Tx(Engine::Postgres(&t)))
    }

    pub(super) fn readers(&self) -> &reader::Readers {
        &self.readers
    }

    /// One permit per pooled connection, for reads to take before they leave the executor.
    pub fn read_permits(&self) -> &tokio::sync::Semaphore {
        &self.read_permits
    }

    /// Whether the database can be read and take a write now (a one-row update, committed).
    pub fn health(&self) -> Result<(), &'static str> {
        // One statement on its own is one committed transaction; it reads whether this build
        // may still serve the database too.
        let probed = self.connection().and_then(|mut conn| {
            needs_of(
                &mut conn.conn,
                "UPDATE health_probe SET checks = checks + 1 WHERE id = 1 \
                 RETURNING (SELECT needs_migration FROM schema_compatibility)",
            )
        });
        let needs = probed.map_err(|e| {
            tracing::warn!(error = ?escaped(&e), "health check: the database cannot take writes");
            e.unavailable().unwrap_or("the database cannot take writes")
        })?;
        super::may_serve(needs)
    }

    /// The database's size on disk.
    pub fn size_bytes(&self) -> Option<u64> {
        let mut conn = self.connection().ok()?;
        let size = first_value(&mut conn.conn, "SELECT pg_database_size(current_database())").ok()??;
        size.parse().ok()
    }
}

/// The pause before a conflicting write runs again: 5, 10, 20... ms, up to 320, with jitter so
/// two instances that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(6);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % base.max(1));
    Duration::from_millis(base + jitter)
}

/// Brings a PostgreSQL database up to this build's schema: the numbered migrations, each once,
/// all in one transaction. Several instances starting together: the ones that lose the race
/// (a duplicate table or history row, a serialization failure) try again and find it done. A
/// database a newer build migrated is refused.
pub fn migrate(client: &mut postgres::Client) -> Result<Vec<Applied>, StoreError> {
    migrate_with(client)
}

/// [`migrate`], or a database a newer build migrated that its schema lets this build serve.
fn migrate_to_serve(client: &mut impl SimpleSql) -> Result<super::Migrated, StoreError> {
    let ran = migrate_with(client);
    super::migrated_or_newer(ran, || schema_of(client))
}

/// [`migrate`] on any connection that speaks the simple protocol.
fn migrate_with(client: &mut impl SimpleSql) -> Result<Vec<Applied>, StoreError> {
    let runner = embedded::migrations::runner().set_grouped(true);
    super::run_migrations(
        || runner.run(&mut SimpleProtocol(client)),
        lost_a_race,
        |attempt| Duration::from_millis(50 * u64::from(attempt.min(10))),
    )
}

/// refinery's driver over the simple query protocol only: refinery's own prepares named
/// statements, which a pooler in transaction mode may find gone, or another process's, on the
/// next server connection.
struct SimpleProtocol<'c, C>(&'c mut C);

/// A connection's simple protocol: the blocking driver's client (`migrate`, `copy-data`) or a
/// pooled connection of the store.
trait SimpleSql {
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error>;
    fn simple_query(&mut self, sql: &str) -> Result<Vec<postgres::SimpleQueryMessage>, postgres::Error>;
}

impl SimpleSql for postgres::Client {
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        postgres::Client::batch_execute(self, sql)
    }

    fn simple_query(&mut self, sql: &str) -> Result<Vec<postgres::SimpleQueryMessage>, postgres::Error> {
        postgres::Client::simple_query(self, sql)
    }
}

impl SimpleSql for PgConnection {
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        PgConnection::batch_execute(self, sql)
    }

    fn simple_query(&mut self, sql: &str) -> Result<Vec<postgres::SimpleQueryMessage>, postgres::Error> {
        PgConnection::simple_query(self, sql)
    }
}

/// Why a migration step failed: the database's reason, or a history row this build cannot read.
#[derive(Debug)]
enum MigrationFailure {
    Database(postgres::Error),
    History(String),
}

impl std::fmt::Display for MigrationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrationFailure::Database(e) => f.write_str(&reason(e)),
            MigrationFailure::History(why) => write!(f, "the migration history is unreadable: {why}"),
        }
    }
}

impl std::error::Error for MigrationFailure {}

impl From<postgres::Error> for MigrationFailure {
    fn from(e: postgres::Error) -> Self {
        MigrationFailure::Database(e)
    }
}

impl<C: SimpleSql> refinery_core::traits::sync::Transaction for SimpleProtocol<'_, C> {
    type Error = MigrationFailure;

    /// The statements in one transaction: all or none.
    fn execute<'a, T: Iterator<Item = &'a str>>(&mut self, queries: T) -> Result<usize, MigrationFailure> {
        self.0.batch_execute("BEGIN")?;
        let mut count = 0;
        for query in queries {
            if let Err(e) = self.0.batch_execute(query) {
                let _ = self.0.batch_execute("ROLLBACK");
                return Err(e.into());
            }
            count += 1;
        }
        self.0.batch_execute("COMMIT")?;
        Ok(count)
    }
}

impl<C: SimpleSql> refinery_core::traits::sync::Query<Vec<refinery::Migration>> for SimpleProtocol<'_, C> {
    /// The history rows (version, name, applied_on, checksum), read as text.
    fn query(&mut self, query: &str) -> Result<Vec<refinery::Migration>, MigrationFailure> {
        let messages = self.0.simple_query(query)?;
        let bad = |what: &str| MigrationFailure::History(what.to_owned());
        let mut applied = Vec::new();
        for message in messages {
            let postgres::SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let text = |i: usize| row.get(i).ok_or_else(|| bad("a column is NULL"));
            let version = text(0)?.parse().map_err(|_| bad("a version is not a number"))?;
            let applied_on = chrono::DateTime::parse_from_rfc3339(text(2)?)
                .ok()
                .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.timestamp()).ok())
                .ok_or_else(|| bad("an applied_on is not an RFC 3339 date"))?;
            let checksum = text(3)?.parse().map_err(|_| bad("a checksum is not a number"))?;
            applied.push(refinery::Migration::applied(
                version,
                text(1)?.to_owned(),
                applied_on,
                checksum,
            ));
        }
        Ok(applied)
    }
}

impl<C: SimpleSql> refinery::Migrate for SimpleProtocol<'_, C> {}

/// Whether a migration failed because another instance was migrating the same database.
fn lost_a_race(e: &refinery::Error) -> bool {
    use postgres::error::SqlState;
    let Some(MigrationFailure::Database(pg)) = super::cause::<MigrationFailure>(e) else {
        return false;
    };
    pg.code().is_some_and(|c| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::DUPLICATE_TABLE,
            SqlState::DUPLICATE_OBJECT,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(c)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A database of its own on the server `WARRANTY_GATEWAY_TEST_POSTGRES` names (where the
    /// tests may create databases), dropped afterwards; `None` (the test says so) without one.
    pub struct FreshDatabase {
        admin: tokio_postgres::Config,
        pub config: tokio_postgres::Config,
        /// The server's TLS, as its URL says.
        pub tls: MakeRustlsConnect,
        name: String,
    }

    impl FreshDatabase {
        pub fn create() -> Option<FreshDatabase> {
            let Ok(url) = std::env::var("WARRANTY_GATEWAY_TEST_POSTGRES") else {
                eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
                return None;
            };
            let url::Target { config: admin, tls, .. } =
                url::parse(&url).expect("WARRANTY_GATEWAY_TEST_POSTGRES is a PostgreSQL URL");
            let name = format!(
                "wg_test_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let mut client = postgres::Config::from(admin.clone())
                .connect(tls.clone())
                .expect("the test server answers");
            client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let mut config = admin.clone();
            config.dbname(&name);
            Some(FreshDatabase {
                admin,
                config,
                tls,
                name,
            })
        }

        pub fn connect(&self) -> postgres::Client {
            postgres::Config::from(self.config.clone())
                .connect(self.tls.clone())
                .unwrap()
        }
    }

    impl Drop for FreshDatabase {
        fn drop(&mut self) {
            if let Ok(mut client) = postgres::Config::from(self.admin.clone()).connect(self.tls.clone()) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        }
    }

    /// (table, column) of every table of ours.
    fn columns_in_postgres(client: &mut postgres::Client) -> BTreeSet<(String, String)> {
        client
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> 'refinery_schema_history'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    fn columns_in_sqlite() -> BTreeSet<(String, String)> {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::SCHEMA).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut all = BTreeSet::new();
        for table in tables {
            let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})")).unwrap();
            for column in stmt.query_map([], |r| r.get::<_, String>(1)).unwrap() {
                all.insert((table.clone(), column.unwrap()));
            }
        }
        all
    }

    /// V6 totals what a database at V5 already holds: a registration with claims or
    /// cancellations gets its row in registration_totals, one with neither none.
    #[test]
    fn v6_backfills_the_totals_of_the_claims_and_cancellations_already_stored() {
        let Some(db) = FreshDatabase::create() else { return };
        let mut client = db.connect();
        embedded::migrations::runner()
            .set_grouped(true)
            .set_target(refinery::Target::Version(5))
            .run(&mut client)
            .unwrap();
        // Each NOT NULL column without a default gets a value of its type; `set` the rest.
        let mut insert = |table: &str, set: &[(&str, &str)]| {
            let mut values: Vec<(String, String)> = client
                .query(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_name = $1 AND is_nullable = 'NO' AND column_default IS NULL \
                     AND is_identity = 'NO'",
                    &[&table],
                )
                .unwrap()
                .iter()
                .map(|r| {
                    let value = match (r.get::<_, &str>(0), r.get::<_, &str>(1)) {
                        ("tenant", _) => "'live'",
                        (_, "bigint" | "integer") => "1",
                        (_, "boolean") => "false",
                        (_, "timestamp with time zone") => "'2024-01-01T00:00:00Z'",
                        _ => "'x'",
                    };
                    (r.get(0), value.to_owned())
                })
                .filter(|(c, _)| !set.iter().any(|(s, _)| s == c))
                .collect();
            values.extend(set.iter().map(|(c, v)| (c.to_string(), v.to_string())));
            let (columns, values): (Vec<String>, Vec<String>) = values.into_iter().unzip();
            client
                .batch_execute(&format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    values.join(", ")
                ))
                .unwrap();
        };
        for (id, invoice) in [("1", "'I1'"), ("2", "'I2'"), ("3", "'I3'")] {
            insert("registrations", &[("id", id), ("invoice_number", invoice)]);
        }
        let claim = |repair: &'static str, count: &'static str, date: &'static str| {
            [
                ("registration_id", "1"),
                ("repair_invoice_number", repair),
                ("tire_claim_count", count),
                ("claim_date", date),
            ]
        };
        insert("claims", &claim("'R1'", "1", "'2024-02-01T00:00:00Z'"));
        insert("claims", &claim("'R2'", "2", "'2024-03-01T00:00:00Z'"));
        for (id, invoice, count) in [("9", "'X2'", "1"), ("7", "'X1'", "3")] {
            insert(
                "cancellations",
                &[
                    ("id", id),
                    ("registration_id", "2"),
                    ("cancel_invoice_number", invoice),
                    ("tire_cancel_count", count),
                ],
            );
        }
        migrate(&mut client).unwrap();
        // registration_id, tires_claimed, the latest claim's day, tires_cancelled, first_cancellation_id
        type Totals = (i64, i64, Option<String>, i64, Option<i64>);
        let totals: Vec<Totals> = client
            .query(
                "SELECT registration_id, tires_claimed, to_char(latest_claim_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'), \
                 tires_cancelled, first_cancellation_id FROM registration_totals ORDER BY registration_id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        assert_eq!(
            totals,
            [(1, 3, Some("2024-03-01".to_owned()), 0, None), (2, 0, None, 4, Some(7))]
        );
    }

    #[test]
    fn postgres_migrations_make_the_tables_and_columns_sqlite_has() {
        let Some(db) = FreshDatabase::create() else { return };
        let mut client = db.connect();
        let applied = migrate(&mut client).unwrap();
        assert_eq!(applied.last(), Some(&super::super::latest_migration()));
        assert_eq!(columns_in_postgres(&mut client), columns_in_sqlite());
        assert_eq!(migrate(&mut client).unwrap(), vec![]);
        let probe: i64 = client.query_one("SELECT checks FROM health_probe", &[]).unwrap().get(0);
        assert_eq!(probe, 0);
    }

    /// `sql`'s one row, run on the store's transaction.
    fn one_row(t: &mut PgTx, sql: &str, params: Params) -> Result<Row, StoreError> {
        let mut rows = t.query(sql, params)?;
        assert_eq!(rows.len(), 1, "{sql}");
        Ok(rows.remove(0))
    }

    /// `sql`'s one row's first column, run on the store's transaction.
    fn count(tx: &Tx, sql: &str, params: Params) -> Result<i64, StoreError> {
        let Tx(Engine::Postgres(t)) = tx else {
            panic!("a PostgreSQL transaction")
        };
        Ok(one_row(&mut t.borrow_mut(), sql, params)?.get(0))
    }

    /// Nothing of a transaction outlives it: no prepared statement, no setting (the statement
    /// timeout is the transaction's own). A read of one statement is prepared once on a
    /// connection that reaches the server itself, and never through a pooler.
    #[test]
    fn only_a_direct_connection_keeps_its_reads_prepared() {
        let Some(db) = FreshDatabase::create() else { return };
        let store = PgStore::open_config(db.config.clone(), db.tls.clone(), 1, STATEMENT_TIMEOUT).unwrap();
        let direct = store.connection().unwrap().conn.direct();
        // cluster.sh says when the test server is a pooler.
        assert_eq!(direct, std::env::var_os("PG_TEST_POOLER").is_none(), "direct");
        let sql = "SELECT count(*) FROM registrations WHERE partner_id = $1";
        let other = "SELECT count(*) FROM claims WHERE registration_id = $1";
        for _ in 0..3 {
            assert_eq!(store.read(|tx| count(tx, other, &[&1001i64])).unwrap(), 0);
            assert_eq!(store.read_one(|tx| count(tx, sql, &[&1001i64])).unwrap(), 0);
            store.write(|tx| count(tx, other, &[&1001i64])).unwrap();
        }
        let in_a_transaction = store
            .read(|tx| {
                let Tx(Engine::Postgres(t)) = tx else {
                    panic!("PostgreSQL")
                };
                Ok(
                    one_row(&mut t.borrow_mut(), "SELECT current_setting('statement_timeout')", &[])?
                        .get::<_, String>(0),
                )
            })
            .unwrap();
        assert_eq!(in_a_transaction, "1min");
        let (prepared, timeout) = store
            .read(|tx| {
                let Tx(Engine::Postgres(t)) = tx else {
                    panic!("PostgreSQL")
                };
                let row = one_row(
                    &mut t.borrow_mut(),
                    "SELECT array_agg(statement ORDER BY statement), current_setting('statement_timeout') \
                     FROM pg_prepared_statements",
                    &[],
                )?;
                Ok((row.get::<_, Option<Vec<String>>>(0), row.get::<_, String>(1)))
            })
            .unwrap();
        let expected = direct.then(|| vec![sql.to_owned()]);
        assert_eq!((prepared, timeout.as_str()), (expected, "1min"));
        let outside = store
            .read_one(|tx| {
                count(
                    tx,
                    "SELECT count(*) FROM pg_settings WHERE name = 'statement_timeout' AND setting = '0'",
                    &[],
                )
            })
            .unwrap();
        assert_eq!(outside, 1, "no statement timeout outlives its transaction");
    }

    /// A connection through anything but the server itself (here a TCP relay of the test's own)
    /// prepares nothing: the server's peer is not the connection's socket.
    #[test]
    fn a_connection_through_a_relay_is_not_direct() {
        let Some(db) = FreshDatabase::create() else { return };
        let server = match db.config.get_hosts() {
            [tokio_postgres::config::Host::Tcp(host)] => format!("{host}:{}", db.config.get_ports()[0]),
            _ => return,
        };
        let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = relay.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in relay.incoming().map_while(Result::ok) {
                let upstream = std::net::TcpStream::connect(&server).unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut c1, mut u1) = (client, upstream);
                std::thread::spawn(move || std::io::copy(&mut c1, &mut u1));
                std::thread::spawn(move || std::io::copy(&mut u2, &mut c2));
            }
        });
        let mut config = db.config.clone();
        config.host("127.0.0.1").port(port);
        let store = PgStore::open_config(config, db.tls.clone(), 1, STATEMENT_TIMEOUT).unwrap();
        assert!(!store.connection().unwrap().conn.direct());
        let sql = "SELECT count(*) FROM registrations WHERE partner_id = $1";
        for _ in 0..3 {
            assert_eq!(store.read_one(|tx| count(tx, sql, &[&1001i64])).unwrap(), 0);
        }
        let prepared = store
            .read_one(|tx| count(tx, "SELECT count(*) FROM pg_prepared_statements", &[]))
            .unwrap();
        assert_eq!(prepared, 0);
    }

    /// A statement in a transaction that runs too long is cancelled by its SET LOCAL timeout: a
    /// 503, and the connection serves the next request.
    #[test]
    fn a_statement_past_the_timeout_is_cancelled() {
        let Some(db) = FreshDatabase::create() else { return };
        let timeout = Duration::from_millis(500);
        let store = PgStore::open_config(db.config.clone(), db.tls.clone(), 1, timeout).unwrap();
        let sleep = |tx: &Tx| count(tx, "SELECT count(*) FROM pg_sleep(5)", &[]);
        let started = Instant::now();
        let err = store.read(sleep).unwrap_err();
        assert_eq!(err.unavailable(), Some("the database did not answer in time"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(store.read_one(|tx| count(tx, "SELECT 1::int8", &[])).unwrap(), 1);
        let err = store.write(sleep).unwrap_err();
        assert_eq!(err.unavailable(), Some("the database did not answer in time"), "{err}");
    }

    /// A database whose synchronous_commit is off (for speed, by someone who did not know the
    /// gateway answers 200 for what is on disk): the gateway's writes set it on for themselves,
    /// and leave the reads as they are.
    #[test]
    fn writes_commit_synchronously_where_the_database_does_not() {
        let Some(db) = FreshDatabase::create() else { return };
        // Through the server's own database, so that every session of this one (behind a pooler
        // too) starts with it off.
        postgres::Config::from(db.admin.clone())
            .connect(db.tls.clone())
            .unwrap()
            .batch_execute(&format!("ALTER DATABASE {} SET synchronous_commit = off", db.name))
            .unwrap();
        let store = PgStore::open_config(db.config.clone(), db.tls.clone(), 1, STATEMENT_TIMEOUT).unwrap();
        let setting = |tx: &Tx| {
            let row = tx.row("SELECT current_setting('synchronous_commit') AS s", &[], |r| {
                r.text("s")
            })?;
            Ok(row.unwrap_or_default())
        };
        assert_eq!(store.write(setting).unwrap(), "on");
        assert_eq!(store.read(setting).unwrap(), "off");
        let unsafe_server = Durability {
            fsync: false,
            full_page_writes: false,
            synchronous_commit: "off".into(),
        };
        let said = unsafe_server.warnings().join(" ");
        assert!(
            said.contains("fsync is off") && said.contains("full_page_writes is off"),
            "{said}"
        );
    }

    #[test]
    fn a_read_of_one_statement_refuses_a_second() {
        let Some(db) = FreshDatabase::create() else { return };
        let store = PgStore::open_config(db.config.clone(), db.tls.clone(), 1, STATEMENT_TIMEOUT).unwrap();
        assert_eq!(store.read_one(|tx| count(tx, "SELECT 1::int8", &[])).unwrap(), 1);
        let two = store.read_one(|tx| {
            count(tx, "SELECT 1::int8", &[])?;
            count(tx, "SELECT 2::int8", &[])
        });
        match two {
            Err(StoreError::Database(e)) => assert!(e.to_string().contains("ran a second"), "{e}"),
            other => panic!("a second statement ran: {other:?}"),
        }
        // The connection is fine afterwards.
        assert_eq!(store.read_one(|tx| count(tx, "SELECT 2::int8", &[])).unwrap(), 2);
    }

    #[test]
    fn instances_starting_together_migrate_once() {
        let Some(db) = FreshDatabase::create() else { return };
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (config, tls) = (db.config.clone(), db.tls.clone());
                std::thread::spawn(move || {
                    migrate(&mut postgres::Config::from(config).connect(tls).unwrap()).map(|a| a.len())
                })
            })
            .collect();
        let applied: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
        let migrations = super::super::latest_migration().version as usize;
        assert_eq!(applied.iter().sum::<usize>(), migrations, "{applied:?}");
        let rows: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM refinery_schema_history", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, migrations as i64);
    }

    #[test]
    fn a_postgres_database_from_a_newer_build_is_served_only_when_its_schema_allows() {
        let Some(db) = FreshDatabase::create() else { return };
        let mut client = db.connect();
        migrate(&mut client).unwrap();
        client
            .execute(
                "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                 VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
                &[],
            )
            .unwrap();
        let err = migrate(&mut client).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        // An added table's migration leaves the compatibility as it was: served, nothing applied.
        let future = Applied {
            version: 99,
            name: "from_the_future".into(),
        };
        let migrated = migrate_to_serve(&mut client).unwrap();
        assert_eq!((migrated.applied, migrated.newer), (vec![], vec![future.clone()]));
        assert_eq!(schema_of(&mut client).unwrap().newer, vec![future]);
        // This build's migrations leave what they leave on SQLite.
        let needs: i64 = client.query_one(super::super::NEEDS_MIGRATION, &[]).unwrap().get(0);
        assert_eq!(needs, i64::from(super::super::needs_migration().unwrap()));
        // One this build cannot serve on raises it.
        client
            .execute("UPDATE schema_compatibility SET needs_migration = 99", &[])
            .unwrap();
        let err = migrate_to_serve(&mut client).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("V99__from_the_future is unknown to this build, and only builds that know V99 may serve it"),
            "{err}"
        );
    }

    #[test]
    fn an_unreachable_server_is_a_fault_not_a_bug() {
        let err = "postgres://nobody@127.0.0.1:1/none"
            .parse::<postgres::Config>()
            .unwrap()
            .connect_timeout(Duration::from_secs(2))
            .connect(postgres::NoTls)
            .err()
            .expect("nothing listens on port 1");
        let e = StoreError::from(err);
        assert_eq!(e.unavailable(), Some("the database cannot be reached"), "{e}");
    }

    /// The autogroup advice is given exactly when every host is this machine and the switch is on.
    #[test]
    fn scheduler_advice_only_for_a_database_on_this_machine_with_autogroup_on() {
        let hosts = |url: &str| -> bool {
            let config: tokio_postgres::Config = url.parse().unwrap();
            on_this_host(config.get_hosts())
        };
        for local in [
            "postgres://u@127.0.0.1:5432/db",
            "postgres://u@localhost/db",
            "postgres://u@[::1]:5432/db",
            "host=/var/run/postgresql dbname=db",
            "postgres://u@127.0.0.2,localhost/db",
        ] {
            assert!(hosts(local), "{local}");
        }
        for remote in [
            "postgres://u@db.internal:5432/db",
            "postgres://u@10.0.0.5/db",
            "postgres://u@localhost,db.internal/db",
        ] {
            assert!(!hosts(remote), "{remote}");
        }
        let advice = scheduler_advice(true, "1\n").expect("advised");
        assert!(advice.contains("kernel.sched_autogroup_enabled = 0"), "{advice}");
        assert_eq!(scheduler_advice(true, "0\n"), None);
        assert_eq!(
            scheduler_advice(true, ""),
            None,
            "no such switch (not Linux, or no autogroup)"
        );
        assert_eq!(scheduler_advice(false, "1\n"), None);
    }
}
