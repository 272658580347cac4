//! PostgreSQL: the schema (numbered migrations in migrations/postgres/, the same tables and
//! columns as SQLite's) and how its errors read. The engine that serves from it builds on this.

use std::time::Duration;

use super::{Applied, StoreError};

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
        // No SQLSTATE: the server was not reached (refused, timed out, reset).
        return Some("the database cannot be reached");
    };
    let class = &code.code()[..2];
    Some(match class {
        "08" => "the database connection failed",
        "53" => "the database is out of resources (disk, memory or connections)",
        "57" => "the database is shutting down or was restarted",
        "58" => "the database has a system error",
        _ if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED => {
            "the database is busy"
        }
        _ => return None,
    })
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        match storage_fault(&e) {
            Some(reason) => StoreError::Unavailable {
                reason,
                source: Box::new(e),
            },
            None => StoreError::Database(Box::new(e)),
        }
    }
}

/// Connects to the database a URL names and migrates it (`warranty-gateway migrate`).
pub fn migrate_url(url: &str) -> Result<Vec<Applied>, StoreError> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Database(format!("not a PostgreSQL URL: {e}").into()))?;
    let mut client = config.connect(postgres::NoTls)?;
    migrate(&mut client)
}

/// Brings a PostgreSQL database up to this build's schema: the numbered migrations, each once,
/// all in one transaction. Several instances starting together: the ones that lose the race
/// (a duplicate table or history row, a serialization failure) try again and find it done. A
/// database a newer build migrated is refused.
pub fn migrate(client: &mut postgres::Client) -> Result<Vec<Applied>, StoreError> {
    let runner = embedded::migrations::runner().set_grouped(true);
    super::run_migrations(
        || runner.run(client),
        lost_a_race,
        |attempt| Duration::from_millis(50 * u64::from(attempt.min(10))),
    )
}

/// Whether a migration failed because another instance was migrating the same database.
fn lost_a_race(e: &refinery::Error) -> bool {
    use postgres::error::SqlState;
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(pg) = err.downcast_ref::<postgres::Error>() {
            return pg.code().is_some_and(|c| {
                [
                    SqlState::UNIQUE_VIOLATION,
                    SqlState::DUPLICATE_TABLE,
                    SqlState::DUPLICATE_OBJECT,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(c)
            });
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A database of its own on the server `WARRANTY_GATEWAY_TEST_POSTGRES` names (where the
    /// tests may create databases), dropped afterwards; `None` (the test says so) without one.
    pub struct FreshDatabase {
        admin: postgres::Config,
        pub config: postgres::Config,
        name: String,
    }

    impl FreshDatabase {
        pub fn create() -> Option<FreshDatabase> {
            let Ok(url) = std::env::var("WARRANTY_GATEWAY_TEST_POSTGRES") else {
                eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
                return None;
            };
            let admin: postgres::Config = url.parse().expect("WARRANTY_GATEWAY_TEST_POSTGRES is a PostgreSQL URL");
            let name = format!(
                "wg_test_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let mut client = admin.connect(postgres::NoTls).expect("the test server answers");
            client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let mut config = admin.clone();
            config.dbname(&name);
            Some(FreshDatabase { admin, config, name })
        }

        pub fn connect(&self) -> postgres::Client {
            self.config.connect(postgres::NoTls).unwrap()
        }
    }

    impl Drop for FreshDatabase {
        fn drop(&mut self) {
            if let Ok(mut client) = self.admin.connect(postgres::NoTls) {
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

    #[test]
    fn instances_starting_together_migrate_once() {
        let Some(db) = FreshDatabase::create() else { return };
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let config = db.config.clone();
                std::thread::spawn(move || migrate(&mut config.connect(postgres::NoTls).unwrap()).map(|a| a.len()))
            })
            .collect();
        let applied: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
        assert_eq!(applied.iter().sum::<usize>(), 3, "{applied:?}");
        let rows: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM refinery_schema_history", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 3);
    }

    #[test]
    fn a_postgres_database_from_a_newer_build_is_refused() {
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
}
