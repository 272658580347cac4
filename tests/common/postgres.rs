//! A fresh PostgreSQL database per test, on the server `WARRANTY_GATEWAY_TEST_POSTGRES` names
//! (a URL where the tests may create databases), dropped when the test is done. The driver
//! runs a runtime of its own, so its calls run on a thread of their own, never on the test's
//! executor.

// Each test binary and the benchmark use their part of this file.
#![allow(dead_code)]

/// The variable that turns the PostgreSQL runs on.
pub const VAR: &str = "WARRANTY_GATEWAY_TEST_POSTGRES";

pub struct PgDatabase {
    admin: String,
    pub url: String,
    pub name: String,
}

/// Runs `f` with a connection to `url`, on a thread of its own.
pub fn with_client<R: Send + 'static>(url: &str, f: impl FnOnce(&mut postgres::Client) -> R + Send + 'static) -> R {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut client = warranty_gateway::store::postgres_client(&url).expect("the test server answers");
        f(&mut client)
    })
    .join()
    .expect("the database work did not panic")
}

/// The first column of each row of `sql` on the database at `url`, as text: the simple protocol,
/// nothing prepared, so a pooler in front is no matter.
pub fn texts(url: &str, sql: &str) -> Vec<String> {
    let sql = sql.to_owned();
    with_client(url, move |c| {
        c.simple_query(&sql)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect()
    })
}

impl PgDatabase {
    /// The server's URL, when the PostgreSQL runs are on.
    pub fn server() -> Option<String> {
        std::env::var(VAR).ok().filter(|v| !v.is_empty())
    }

    /// A new, empty database on the test server; `None` when the variable is not set.
    pub fn create() -> Option<PgDatabase> {
        Some(Self::create_on(&Self::server()?))
    }

    /// A new, empty database on the server `admin` names.
    pub fn create_on(admin: &str) -> PgDatabase {
        let admin = admin.to_owned();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("wg_test_{}_{stamp}", std::process::id());
        let create = format!("CREATE DATABASE {name}");
        with_client(&admin, move |c| c.batch_execute(&create).unwrap());
        // The same server and parameters (TLS, say), the new database.
        let mut url = url::Url::parse(&admin).expect("the test server's URL is a URL");
        url.set_path(&name);
        let url = url.to_string();
        PgDatabase { admin, url, name }
    }

    /// Runs SQL on the database.
    pub fn execute(&self, sql: &str) {
        let sql = sql.to_owned();
        with_client(&self.url, move |c| c.batch_execute(&sql).unwrap());
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let admin = self.admin.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = warranty_gateway::store::postgres_client(&admin) {
                let _ = c.batch_execute(&drop);
            }
        })
        .join();
    }
}
