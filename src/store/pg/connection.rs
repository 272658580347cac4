//! One pooled connection to PostgreSQL: the async driver's client, run from the store's
//! blocking threads by a runtime of its own (as the driver's blocking wrapper does), and whether
//! it reaches PostgreSQL directly.
//!
//! Whether it does decides how a read of one statement runs. Directly, its statement is
//! prepared once per connection and its plan cached (parsing and planning are four fifths of a
//! lookup's work on the server). Through anything else, a pooler in transaction mode above all,
//! a named statement would stay on a server connection that the pooler then hands to another
//! client, which would find it missing, or find its own name taken by another process's query:
//! there every statement is the unnamed one. Direct means the server's view of its peer, both
//! ends, is this socket's own (`inet_client_addr/port`, `inet_server_addr/port` against the
//! socket's local and peer address): through a pooler the server's peer is the pooler.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, SimpleQueryMessage, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

pub struct PgConnection {
    /// Drives the connection's I/O while a call waits on it; current-thread, so nothing runs
    /// between calls.
    runtime: tokio::runtime::Runtime,
    client: Client,
    /// The socket reaches PostgreSQL itself, not a pooler or proxy.
    direct: bool,
    /// Statements prepared on this connection (direct ones only), by their SQL.
    prepared: HashMap<String, Statement>,
}

/// A parameter and its PostgreSQL type, as a statement sends them.
pub type Typed<'p> = (&'p (dyn ToSql + Sync), Type);

impl PgConnection {
    /// Connects as [`connect_async`] does, on a runtime of its own.
    pub fn open(
        config: &tokio_postgres::Config,
        tls: &MakeRustlsConnect,
        timeout: Duration,
    ) -> Result<PgConnection, ConnectError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_error)?;
        let (client, direct) = runtime.block_on(connect_async(config, tls, timeout))?;
        Ok(PgConnection {
            runtime,
            client,
            direct,
            prepared: HashMap::new(),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Statements on the simple protocol (no parameters, nothing prepared), in one round trip.
    pub fn batch_execute(&mut self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.runtime.block_on(self.client.batch_execute(sql))
    }

    /// One statement on the simple protocol: its rows, as text.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, tokio_postgres::Error> {
        self.runtime.block_on(self.client.simple_query(sql))
    }

    /// `sql` as the unnamed statement, its parameters' types sent with it: parse, bind and
    /// execute in one round trip, nothing left on the server. Its rows and how many it wrote.
    pub fn unnamed(&mut self, sql: &str, params: &[Typed]) -> Result<(Vec<Row>, u64), tokio_postgres::Error> {
        let client = &self.client;
        self.runtime.block_on(async {
            let stream = client
                .query_typed_raw(sql, params.iter().map(|(p, t)| (*p, t.clone())))
                .await?;
            collect(stream).await
        })
    }

    /// `sql` prepared once on this connection when it is direct, else as [`PgConnection::unnamed`].
    /// A statement the server no longer has (a `DISCARD`), or whose result columns a migration
    /// changed, is forgotten and the read runs unnamed this once.
    pub fn prepared(&mut self, sql: &str, params: &[Typed]) -> Result<(Vec<Row>, u64), tokio_postgres::Error> {
        if !self.direct {
            return self.unnamed(sql, params);
        }
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
                let statement = self.runtime.block_on(self.client.prepare_typed(sql, &types))?;
                self.prepared.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        let client = &self.client;
        let ran = self.runtime.block_on(async {
            let stream = client.query_raw(&statement, params.iter().map(|(p, _)| *p)).await?;
            collect(stream).await
        });
        match ran {
            Err(e) if stale_statement(&e) => {
                self.prepared.remove(sql);
                self.unnamed(sql, params)
            }
            ran => ran,
        }
    }

    /// Whether this connection prepares its reads (it reaches PostgreSQL directly).
    pub fn direct(&self) -> bool {
        self.direct
    }
}

/// Connects as `config` says, with `tls`, on the current runtime (which drives the connection
/// from then on): the client, and whether it reaches the server itself. A single TCP host is
/// connected to by this module (so that the socket's own addresses are known); anything else
/// (several hosts, a Unix socket) by the driver, and counted as not direct.
pub async fn connect_async(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    timeout: Duration,
) -> Result<(Client, bool), ConnectError> {
    let single_tcp = match (config.get_hosts(), config.get_hostaddrs()) {
        ([Host::Tcp(host)], []) => Some(host.clone()),
        _ => None,
    };
    let Some(host) = single_tcp else {
        let (client, connection) = config.connect(tls.clone()).await?;
        tokio::spawn(connection);
        return Ok((client, false));
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let stream = tcp_connect(config, &host, port, timeout).await?;
    let ends = (
        stream.local_addr().map_err(io_error)?,
        stream.peer_addr().map_err(io_error)?,
    );
    let mut tls = tls.clone();
    let connector =
        MakeTlsConnect::<TcpStream>::make_tls_connect(&mut tls, &host).unwrap_or_else(|never| match never {});
    let (client, connection) = config.connect_raw(stream, connector).await?;
    tokio::spawn(connection);
    let direct = reaches_the_server_itself(&client, ends).await?;
    Ok((client, direct))
}

/// Whether a prepared statement failed because it went stale: the server no longer has it (a
/// `DISCARD`), or a migration changed its result columns ("cached plan must not change result
/// type"). Forgotten, it runs again.
pub fn stale_statement(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code()
        .is_some_and(|c| *c == SqlState::INVALID_SQL_STATEMENT_NAME || *c == SqlState::FEATURE_NOT_SUPPORTED)
}

/// Every row of a statement, and how many rows it wrote.
async fn collect(stream: tokio_postgres::RowStream) -> Result<(Vec<Row>, u64), tokio_postgres::Error> {
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await {
        rows.push(row?);
    }
    let written = stream.rows_affected().unwrap_or(0);
    Ok((rows, written))
}

/// A TCP connection to `host:port` as the driver would make it: each resolved address in turn
/// within the connect timeout, no Nagle delay, and the URL's keepalives and user timeout.
async fn tcp_connect(
    config: &tokio_postgres::Config,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let timeout = config.get_connect_timeout().copied().unwrap_or(timeout);
    let addresses: Vec<SocketAddr> = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| io_error(std::io::ErrorKind::TimedOut.into()))?
        .map_err(io_error)?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host} has no address"));
    for address in addresses {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                last = e;
                continue;
            }
            Err(_) => {
                last = std::io::ErrorKind::TimedOut.into();
                continue;
            }
        };
        stream.set_nodelay(true).map_err(io_error)?;
        let socket = socket2::SockRef::from(&stream);
        if config.get_keepalives() {
            let mut keepalive = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
            socket.set_tcp_keepalive(&keepalive).map_err(io_error)?;
        }
        if let Some(user_timeout) = config.get_tcp_user_timeout() {
            socket.set_tcp_user_timeout(Some(*user_timeout)).map_err(io_error)?;
        }
        return Ok(stream);
    }
    Err(io_error(last))
}

/// Whether the server's peer is this socket: both ends the same as the socket's own.
async fn reaches_the_server_itself(
    client: &Client,
    (local, peer): (SocketAddr, SocketAddr),
) -> Result<bool, tokio_postgres::Error> {
    let rows = client
        .simple_query(
            "SELECT host(inet_client_addr()), inet_client_port(), host(inet_server_addr()), inet_server_port()",
        )
        .await?;
    let Some(SimpleQueryMessage::Row(row)) = rows.into_iter().find(|m| matches!(m, SimpleQueryMessage::Row(_))) else {
        return Ok(false);
    };
    let end = |addr: usize, port: usize| -> Option<SocketAddr> {
        let ip: IpAddr = row.get(addr)?.parse().ok()?;
        Some(SocketAddr::new(ip.to_canonical(), row.get(port)?.parse().ok()?))
    };
    let same =
        |seen: Option<SocketAddr>, own: SocketAddr| seen == Some(SocketAddr::new(own.ip().to_canonical(), own.port()));
    Ok(same(end(0, 1), local) && same(end(2, 3), peer))
}

/// A connection that could not be made, said in the server's or the system's words (r2d2
/// quotes the last one when no connection came in time).
#[derive(Debug)]
pub enum ConnectError {
    Database(tokio_postgres::Error),
    Io(std::io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Database(e) => f.write_str(&super::reason(e)),
            ConnectError::Io(e) => write!(f, "error connecting to server: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(e: tokio_postgres::Error) -> Self {
        ConnectError::Database(e)
    }
}

fn io_error(e: std::io::Error) -> ConnectError {
    ConnectError::Io(e)
}
