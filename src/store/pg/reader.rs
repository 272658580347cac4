//! Lookups without leaving the executor: each HTTP worker thread keeps its own connections to
//! PostgreSQL, driven by its own runtime, and awaits a lookup's one statement on them, prepared
//! once per connection. No thread hand-off, no pool lock: handing each lookup to a blocking
//! thread and back cost more than the database's work (perf: a third of the gateway's time in
//! task switches).
//!
//! Only where statements may be prepared: connections that reach the server itself
//! (connection.rs says why). The first connection a worker opens decides; through a pooler or
//! proxy the lookups take the blocking path and its unnamed statements.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::connection;
use crate::store::StoreError;

/// Connections a worker opens at most; the second only while the first has this many
/// statements in flight (they are pipelined on one connection).
const PER_WORKER: usize = 2;
const BUSY: usize = 4;

pub struct Readers {
    id: u64,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    statement_timeout: Duration,
    /// The database is not reached directly: lookups take the blocking path.
    off: AtomicBool,
}

#[derive(Default)]
struct Local {
    conns: Vec<Rc<Reader>>,
    /// A connection is being opened: the others wait for it rather than each open their own.
    opening: bool,
    opened: Rc<tokio::sync::Notify>,
}

struct Reader {
    client: Client,
    prepared: RefCell<HashMap<&'static str, Statement>>,
    in_flight: Cell<usize>,
}

/// What a lookup does for a connection.
enum Next {
    Use(Rc<Reader>),
    /// None yet, and one is being opened.
    Wait(Rc<tokio::sync::Notify>),
    /// Open one (this lookup now holds `opening`); the least busy, if any, is the fallback.
    Open(Option<Rc<Reader>>),
}

impl Local {
    fn next(&mut self) -> Next {
        self.conns.retain(|c| !c.client.is_closed());
        let least_busy = self.conns.iter().min_by_key(|c| c.in_flight.get()).cloned();
        match least_busy {
            Some(reader) if self.opening || reader.in_flight.get() < BUSY || self.conns.len() >= PER_WORKER => {
                Next::Use(reader)
            }
            None if self.opening => Next::Wait(Rc::clone(&self.opened)),
            least_busy => {
                self.opening = true;
                Next::Open(least_busy)
            }
        }
    }
}

thread_local! {
    static LOCAL: RefCell<HashMap<u64, Local>> = RefCell::new(HashMap::new());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Readers {
    pub fn new(
        config: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        connect_timeout: Duration,
        statement_timeout: Duration,
    ) -> Readers {
        Readers {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            tls,
            connect_timeout,
            statement_timeout,
            off: AtomicBool::new(false),
        }
    }

    /// Whether lookups may come here (they may not through a pooler or proxy).
    pub fn on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    /// The rows of `sql`, prepared on one of this worker's connections; `None` when the database
    /// is not reached directly (the caller takes the blocking path).
    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Vec<Row>>, StoreError> {
        let Some(reader) = self.reader().await? else {
            return Ok(None);
        };
        reader.in_flight.set(reader.in_flight.get() + 1);
        let ran = tokio::time::timeout(self.statement_timeout, reader.run(sql, params)).await;
        reader.in_flight.set(reader.in_flight.get() - 1);
        match ran {
            Ok(rows) => rows.map(Some).map_err(StoreError::from),
            Err(_) => {
                // A connection straight to the server: its cancel request is safe to send.
                let cancel = reader.client.cancel_token();
                let tls = self.tls.clone();
                tokio::spawn(async move { cancel.cancel_query(tls).await });
                Err(StoreError::Unavailable {
                    reason: "the database did not answer in time",
                    cause: format!("a lookup ran past {:?}", self.statement_timeout).into(),
                })
            }
        }
    }

    /// This worker's least busy connection, opened if need be (one at a time).
    async fn reader(&self) -> Result<Option<Rc<Reader>>, StoreError> {
        loop {
            let next = LOCAL.with_borrow_mut(|local| local.entry(self.id).or_default().next());
            match next {
                Next::Use(reader) => return Ok(Some(reader)),
                Next::Wait(opened) => {
                    // Created before anything else runs on this thread: it cannot miss the wake.
                    let notified = opened.notified();
                    if !self.on() {
                        return Ok(None);
                    }
                    notified.await;
                }
                Next::Open(least_busy) => {
                    let opened = self.open().await;
                    LOCAL.with_borrow_mut(|local| {
                        let local = local.entry(self.id).or_default();
                        local.opening = false;
                        local.opened.notify_waiters();
                    });
                    return match (opened, least_busy) {
                        // One connection left is used rather than fail the lookup.
                        (Err(_), Some(reader)) => Ok(Some(reader)),
                        (opened, _) => opened,
                    };
                }
            }
        }
    }

    /// Opens one more connection for this worker; `None` when it does not reach the server
    /// itself (and from then on every lookup takes the blocking path).
    async fn open(&self) -> Result<Option<Rc<Reader>>, StoreError> {
        let opened = connection::connect_async(&self.config, &self.tls, self.connect_timeout).await;
        let (client, direct) = opened.map_err(|e| StoreError::Unavailable {
            reason: "the database cannot be reached",
            cause: Box::new(e),
        })?;
        if !direct {
            self.off.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        let reader = Rc::new(Reader {
            client,
            prepared: RefCell::new(HashMap::new()),
            in_flight: Cell::new(0),
        });
        LOCAL.with_borrow_mut(|local| local.entry(self.id).or_default().conns.push(Rc::clone(&reader)));
        Ok(Some(reader))
    }
}

impl Reader {
    /// `sql` on its statement prepared on this connection. One the server no longer has (a
    /// `DISCARD`), or whose result columns a migration changed, is prepared again, once.
    async fn run(&self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, tokio_postgres::Error> {
        let ran = self.client.query(&self.statement(sql).await?, params).await;
        match ran {
            Err(e) if connection::stale_statement(&e) => {
                self.prepared.borrow_mut().remove(sql);
                self.client.query(&self.statement(sql).await?, params).await
            }
            ran => ran,
        }
    }

    async fn statement(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        let cached = self.prepared.borrow().get(sql).cloned();
        match cached {
            Some(statement) => Ok(statement),
            None => {
                let statement = self.client.prepare(sql).await?;
                self.prepared.borrow_mut().insert(sql, statement.clone());
                Ok(statement)
            }
        }
    }
}
