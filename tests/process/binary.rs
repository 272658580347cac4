//! Runs the built `warranty-gateway` binary on a config file in a temporary folder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{Pid, kill_process};

pub use crate::common_postgres::{PgDatabase, texts, with_client};

pub const BIN: &str = env!("CARGO_BIN_EXE_warranty-gateway");
pub const SECRET: &str = "process-test-secret-0123456789abcdef0123";
pub const SECRET_ENV: &str = "PROCESS_TEST_SECRET";

/// Writes a config with one partner, tirecompany (1001), whose secret comes from SECRET_ENV,
/// on an SQLite database in `dir`.
pub fn write_config(dir: &Path) -> PathBuf {
    write_config_with(dir, "path = \"db/gateway.sqlite3\"")
}

/// The database a test runs the binary on: PostgreSQL (a fresh database) when
/// `WARRANTY_GATEWAY_TEST_POSTGRES` is set, else SQLite in the test's folder.
pub struct Engine {
    pub postgres: Option<PgDatabase>,
    dir: PathBuf,
}

impl Engine {
    /// The config (written in `dir`) and the database of the engine under test.
    pub fn write_config(dir: &Path) -> (PathBuf, Engine) {
        let postgres = PgDatabase::create();
        let config = match &postgres {
            Some(db) => write_config_with(dir, &format!("url = \"{}\"\npool_size = 4", db.url)),
            None => write_config(dir),
        };
        let engine = Engine {
            postgres,
            dir: dir.to_owned(),
        };
        (config, engine)
    }

    /// The first column of each row of a query (that both engines take), as text.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        match &self.postgres {
            Some(db) => texts(&db.url, sql),
            None => {
                let conn = rusqlite::Connection::open(db_path(&self.dir)).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
            }
        }
    }

    /// The database's own consistency check, where it has one (SQLite's integrity_check).
    pub fn check_integrity(&self) {
        if self.postgres.is_none() {
            let conn = rusqlite::Connection::open(db_path(&self.dir)).unwrap();
            let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok");
        }
    }
}

/// Writes the config with this `[database]` section's body.
pub fn write_config_with(dir: &Path, database: &str) -> PathBuf {
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
bind = "127.0.0.1:0"
max_body_bytes = 67108864

[database]
{database}

[[partners]]
company = "tirecompany"
partner_id = 1001
secret_env = "{SECRET_ENV}"
plan_term_months = 36
"#
        ),
    )
    .unwrap();
    path
}

/// Whether a newer build's migration leaves older builds able to serve the database.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OlderBuilds {
    /// An added table, say: the compatibility left as it was.
    MayServe,
    /// The compatibility raised to the migration's own version.
    MayNotServe,
}

/// Marks the SQLite database at `db` as migrated by a newer build: a history row of migration
/// `V{version}__from_a_newer_build`, which this build does not have, and what it says of older
/// builds.
pub fn migrated_by_a_newer_build(db: &Path, version: i32, older: OlderBuilds) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (?1, 'from_a_newer_build', '2030-01-01T00:00:00Z', '1')",
        [version],
    )
    .unwrap();
    if older == OlderBuilds::MayNotServe {
        conn.execute("UPDATE schema_compatibility SET needs_migration = ?1", [version])
            .unwrap();
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("db/gateway.sqlite3")
}

/// A running server process, killed on drop; its log lines keep arriving on `log`.
pub struct Server {
    pub child: Child,
    pub address: String,
    /// What it logged up to and including the line saying where it listens.
    pub startup_log: Vec<String>,
    log: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `warranty-gateway serve --config FILE`.
    pub fn serve(config: &Path) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--config").arg(config);
        Server::start(cmd)
    }

    /// Starts `cmd` (with the secret in its environment) and waits until it says where it listens.
    pub fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .env(SECRET_ENV, SECRET)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let address = loop {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the server did not say where it listens: {seen:#?}"));
            if let Some(rest) = line.split("address=").nth(1) {
                let address = rest.split_whitespace().next().unwrap().to_owned();
                seen.push(line);
                break address;
            }
            // The same line as JSON (--log-format json).
            if let Some(address) = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["fields"]["address"].as_str().map(str::to_owned))
            {
                break address;
            }
            seen.push(line);
        };
        Server {
            child,
            address,
            startup_log: seen,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A scrape of `/metrics`: its Prometheus text.
    pub async fn metrics(&self) -> String {
        let res = reqwest::get(self.url("/metrics")).await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    /// POSTs a body to `/v2/partners/{company}` with tirecompany's token.
    pub async fn post(&self, company: &str, body: &serde_json::Value) -> reqwest::Response {
        let url = self.url(&format!("/v2/partners/{company}"));
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token())
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// GETs a path with tirecompany's token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token())
            .send()
            .await
            .unwrap()
    }

    /// Every log line so far.
    pub fn drain_log(&self) -> String {
        std::thread::sleep(Duration::from_millis(200));
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// The log lines from now until one says `text` (within 10 s, else a panic showing them).
    pub fn log_until(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = String::new();
        while !log.contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in the log: {log}");
            log.push_str(&self.drain_log());
        }
        log
    }

    /// Sends a signal (`Signal::TERM`, `Signal::KILL`...): by the system call, not kill(1),
    /// which a minimal image may lack.
    pub fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).expect("the server takes the signal");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        exit_within(&mut self.child, within).unwrap_or_else(|| panic!("the server did not exit within {within:?}"))
    }
}

/// How `child` exited, if it does within `within`.
pub fn exit_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary with `args` and `--config FILE` to its end: exit code, stdout, stderr.
pub fn run_cli(args: &[&str], config: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `partners`' stdout and stderr, once its stdout is `done` (or after 10 s): each instance keeps
/// a credential's use in the database after the request's answer, off its way.
pub fn partners_until(config: &Path, done: impl Fn(&str) -> bool) -> (String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (code, listed, warned) = run_cli(&["partners"], config);
        assert_eq!(code, 0, "{warned}");
        if done(&listed) || std::time::Instant::now() > deadline {
            return (listed, warned);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Puts tirecompany on v3: `keygen` makes a key pair in `dir/keys`, the config gets its
/// public key and issuer and `[v3]`'s two audiences. Answers the private key's path.
pub fn enable_v3(dir: &Path, config: &Path) -> PathBuf {
    let keys = dir.join("keys");
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(&keys).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str("v3_issuer = \"tc-issuer\"\nv3_public_key_file = \"keys/public.pem\"\n");
    text.push_str(
        "\n[v3]\naudience = \"https://gw.example/api/v3\"\nsandbox_audience = \"https://sandbox.gw.example/api/v3\"\n",
    );
    std::fs::write(config, text).unwrap();
    keys.join("private.pem")
}

/// A v3 token of tirecompany from `token --v3`, with `extra` arguments (`--sandbox`...).
pub fn v3_token_cli(config: &Path, key: &Path, extra: &[&str]) -> String {
    let mut args = vec!["token", "--v3", "--company", "tirecompany", "--key"];
    args.push(key.to_str().unwrap());
    args.extend_from_slice(extra);
    let (code, out, err) = run_cli(&args, config);
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

/// A token for tirecompany, signed here (the `token` command has a test of its own).
pub fn token() -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"partnerid": 1001, "claimdate": "2026-11-22"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A registration with ShopID S1 and this invoice, enrolled 2024-01-15 with 4 tires.
pub fn registration(invoice: &str) -> serde_json::Value {
    serde_json::json!({
        "ShopID": "S1", "InvoiceNumber": invoice, "PlanEnrollDate": "2024-01-15", "EmployeeID": "E1",
        "CustomerID": "C1", "TiresCovered": 4, "TPPPrice": 99.99, "TireBrand": "SUM", "TireSize": "2356018",
        "TirePrice": 150.00, "TireCost": 100.00
    })
}

/// A claim of one tire on registration (S1, invoice).
pub fn claim(invoice: &str, repair_invoice: &str) -> serde_json::Value {
    serde_json::json!({
        "ShopID": "S1", "InvoiceNumber": invoice, "ClaimDate": "2024-03-01", "RepairShopID": "S1",
        "RepairInvoiceNumber": repair_invoice, "TireClaimCount": 1, "CreditAmount": 64.04, "CostPerUnit": 60.00,
        "TireBrand": "SUM", "TireSize": "2356018", "TireCost": 58.00
    })
}

/// Batches posted to tirecompany one after another, `batch(first)`, `batch(first + 1)`...,
/// each answered 200, until [`Posting::stop`]: the writes a backup or an export meets.
pub struct Posting {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<usize>,
}

impl Posting {
    pub fn start(server: &Server, first: usize, batch: fn(usize) -> serde_json::Value) -> Posting {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (url, stopped) = (server.url("/v2/partners/tirecompany"), stop.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = first;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let res = client
                    .post(&url)
                    .bearer_auth(token())
                    .body(batch(n).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                n += 1;
            }
            n
        });
        Posting { stop, task }
    }

    /// Stops posting: the number of the batch that would have come next.
    pub async fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}
