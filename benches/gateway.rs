//! The nightly-batch benchmark: `cargo bench --bench gateway`.
//!
//! Starts the real release server (the binary cargo built for this bench) on a temporary
//! database and measures, end to end over loopback HTTP:
//!   1. ingestion of fresh 10,000-registration batches (about 5 MB each) and of 50,000-record
//!      mixed batches: records/s (median) and the server's peak RSS;
//!   2. the raw storage ceiling: the same registrations upserted straight into SQLite through
//!      rusqlite, not our store (the gateway's schema, WAL, synchronous=FULL, one `BEGIN
//!      IMMEDIATE` transaction, one cached plain upsert: no RETURNING, no change detection),
//!      run after each of (1)'s 10k batches; and the ratio of (1) to it, the median of each
//!      batch's against the ceiling's run just after it (this machine's speed drifts);
//!   3. registrationstatus lookups with 64 concurrent keep-alive connections over the 50,000
//!      stored registrations: requests/s, p50, p99; and the ceiling: the same load on a bare
//!      actix-web server (same worker count, a process of its own) answering a fixed JSON body
//!      of the same size; and, as a diagnostic (not a target), that bare server plus the
//!      answer's SQLite read straight through rusqlite: how much of the bare rate the storage
//!      engine's read alone leaves, and how much of that the gateway keeps;
//!   4. four partners uploading 10,000-record batches at once while lookups run: failures and
//!      the lookup p99 meanwhile;
//!   5. on PostgreSQL (a throwaway cluster, tests/postgres/cluster.sh: needs root and Debian's
//!      postgresql; skipped, saying so, without them): fresh 10,000-registration batches end to
//!      end, against the same rows written by one `INSERT ... SELECT FROM unnest(...) ON
//!      CONFLICT DO UPDATE` straight through the PostgreSQL driver (the raw ceiling, not our
//!      store), in one transaction, run after each batch as in (2); registrationstatus lookups as in (3), against the same
//!      bare ceiling and against pgbench (`-M prepared -c64 -j2`, the gateway's own lookup
//!      statement by random stored keys on the gateway's database, in turn), first with the
//!      kernel's scheduler as it is, then (as root, when it is on) again with
//!      kernel.sched_autogroup_enabled = 0, as PostgreSQL hosts are tuned ([`AUTOGROUP`] says
//!      why), put back after; and four partners uploading at once through two instances.
//!   6. refusals: a 100,000-record body of `{}` (every record refused), answered plain and
//!      gzip-compressed, each on a fresh server, against the same number of accepted
//!      registrations: the server's peak RSS; then eight such refusals at once and another
//!      partner's one-record batch sent meanwhile: its time (the refusals must not hold it up).
//!   7. the trail: an operator's search of one invoice (`/ops/records`, one client, each
//!      search audited) with 10,000 history rows of the trail and again with 1,000,000 (100
//!      batches of 10,000 fresh registrations): searches/s, p50, p99; against the raw probe of
//!      the trail's index (rusqlite on the same file, a cached `SELECT * FROM batch_records
//!      WHERE invoice_number = ? AND shop_id = ?`), which must not grow with the history either.
//!
//! The lookups' load generator is wrk (`-t2 -c64`, as the issue measured) when it is on the
//! PATH (Debian's package `wrk`), else this process (hyper, one connection per client, on two
//! threads of its own, as `wrk -t2`); either shares the machine's cores with the server.
//! Section (4) always uses the hyper client (it stops when the uploads are done).
//! Environment: BENCH_LOOKUP_SECS (default 10, per round), BENCH_LOOKUP_ROUNDS (default 5),
//! BENCH_RUNS (default 5), BENCH_SECTIONS (default all, e.g. "1,2"), BENCH_LOAD (`hyper` to
//! use the hyper client even with wrk installed), BENCH_CLIENT_THREADS (default 2),
//! BENCH_AUTOGROUP (`keep`: never switch the kernel's autogroup off in section 5).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use warranty_gateway::records::Registration;
use warranty_gateway::store::{Store, V3Id};

#[path = "../tests/common/cluster.rs"]
mod cluster;
#[path = "../tests/common/postgres.rs"]
mod pg_database;

use cluster::Cluster;
use pg_database::PgDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_warranty-gateway");
const PARTNERS: [(&str, i64); 4] = [("alpha", 1001), ("bravo", 1002), ("charlie", 1003), ("delta", 1004)];
const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
/// Section (7)'s support operator.
const OPERATOR: &str = "bench";
const OPERATOR_SECRET: &str = "bench-operator-secret-0123456789abcdef012345";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The server under test

struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// On a fresh SQLite file.
    fn start() -> Server {
        Server::start_on("path = \"gateway.sqlite3\"")
    }

    /// With this `[database]` section's body.
    fn start_on(database: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            format!("[server]\nbind = \"127.0.0.1:0\"\nmax_body_bytes = 268435456\n\n[database]\n{database}\n");
        for (company, id) in PARTNERS {
            config.push_str(&format!(
                "\n[[partners]]\ncompany = \"{company}\"\npartner_id = {id}\nsecret = \"{SECRET}\"\nplan_term_months = 36\n"
            ));
        }
        config.push_str(&format!(
            "\n[[operators]]\nname = \"{OPERATOR}\"\nrole = \"support\"\nsecret = \"{OPERATOR_SECRET}\"\n"
        ));
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        // Only warnings and errors are logged: pass them on.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("server: {line}");
            }
        });
        let address = wait_for_port(&mut child);
        Server {
            child,
            address,
            _dir: dir,
        }
    }

    /// The SQLite file of a server started by [`Server::start`].
    fn database(&self) -> std::path::PathBuf {
        self._dir.path().join("gateway.sqlite3")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident set size so far (VmHWM), in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds the port the server listens on from /proc (it binds port 0), waiting for /healthz.
fn wait_for_port(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        if let Some(port) = listening_port(child.id()) {
            let address = format!("127.0.0.1:{port}");
            if std::net::TcpStream::connect(&address).is_ok() {
                return address;
            }
        }
        assert!(Instant::now() < deadline, "the server did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The TCP port a process listens on, from /proc/net/tcp and the process's socket inodes.
fn listening_port(pid: u32) -> Option<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    tcp.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // st 0A is LISTEN.
        if cols.get(3) == Some(&"0A") && inodes.iter().any(|i| Some(&i.as_str()) == cols.get(9)) {
            u16::from_str_radix(cols[1].rsplit(':').next()?, 16).ok()
        } else {
            None
        }
    })
}

fn token(partner_id: i64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"partnerid": partner_id, "claimdate": "2026-11-22"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Batches

fn registration(shop: usize, invoice: &str, i: usize) -> Value {
    json!({
        "ShopID": format!("{:06}", 5000 + shop), "InvoiceNumber": invoice,
        "PlanEnrollDate": format!("2025-{:02}-{:02}T10:{:02}:00", 1 + i % 12, 1 + i % 28, i % 60),
        "EmployeeID": format!("JP{:04}", i % 97), "CustomerID": format!("5108-{:06}", i),
        "VehicleYear": "2019", "VehicleMake": "GMC TRUCK", "VehicleModel": "SIERRA 1500 PICKUP",
        "VIN": format!("2GTEC19C48{:07}", i), "CurrentMileage": format!("{}", 10_000 + i % 150_000),
        "TiresCovered": 4, "TPPPrice": 99.68, "TireBrand": "NIT",
        "TireModel": "P265/65R18 112T NITTO CROSSTEK 2", "TireSize": "2656518",
        "TirePrice": 188.99, "TireCost": 105.98, "TireDOT1": "DOT 73C2 KLH0913",
        "TireDOT2": "DOT 73C2 KLH0914", "CommercialVehicle": "No", "OrgID": "NWTG"
    })
}

fn invoice(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:07}")
}

fn registrations_batch(prefix: &str, n: usize) -> Vec<u8> {
    let regs: Vec<Value> = (0..n).map(|i| registration(i % 50, &invoice(prefix, i), i)).collect();
    serde_json::to_vec(&json!({ "Registrations": regs })).unwrap()
}

/// 50,000 records: 30,000 registrations, 10,000 sales, 8,000 claims and 2,000 cancellations
/// against those registrations.
fn mixed_batch(prefix: &str) -> (Vec<u8>, usize) {
    let regs: Vec<Value> = (0..30_000)
        .map(|i| registration(i % 50, &invoice(prefix, i), i))
        .collect();
    let sales: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"ShopID": format!("{:06}", 5000 + i % 50), "InvoiceNumber": invoice(&format!("{prefix}S"), i),
                   "SaleDate": "2026-01-27", "TireCount": 4, "TireBrand": "SUM",
                   "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK", "TireSize": "2356018",
                   "TirePrice": 225.09, "TireCost": 195.09})
        })
        .collect();
    let claims: Vec<Value> = (0..8_000)
        .map(|i| {
            json!({"ShopID": format!("{:06}", 5000 + i % 50), "InvoiceNumber": invoice(prefix, i),
                   "ClaimDate": "2026-02-10T15:30:00", "RepairShopID": format!("{:06}", 5000 + i % 50),
                   "RepairlnvoiceNumber": invoice(&format!("{prefix}R"), i), "VehicleMileage": 96192,
                   "TireClaimCount": 2, "CreditAmount": 64.04, "CostPerUnit": 60.00, "ServiceType": "REPLACE",
                   "ServiceDescription": "FLAT REPAIR PASSENGER REAR", "TireBrand": "SUM",
                   "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK", "TireSize": "2356018", "TireCost": 58.00})
        })
        .collect();
    let cancels: Vec<Value> = (0..2_000)
        .map(|i| {
            let r = 10_000 + i;
            json!({"ShopID": format!("{:06}", 5000 + r % 50), "InvoiceNumber": invoice(prefix, r),
                   "CancelShopID": format!("{:06}", 5000 + r % 50),
                   "CancelInvoiceNumber": invoice(&format!("{prefix}C"), i), "TireCancelCount": "1",
                   "CancelDate": "2026-03-01"})
        })
        .collect();
    let body = json!({"Registrations": regs, "Sales": sales, "Claims": claims, "Cancellations": cancels});
    (serde_json::to_vec(&body).unwrap(), 50_000)
}

// ---------------------------------------------------------------------------------------------
// HTTP client

async fn connect(address: &str) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// One request on a keep-alive connection: the status and the body's length.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    token: &str,
    body: Bytes,
) -> Result<(StatusCode, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body))
}

async fn post_batch(address: &str, company: &str, partner_id: i64, body: Vec<u8>) -> (StatusCode, Duration) {
    let mut sender = connect(address).await;
    let started = Instant::now();
    let (status, _) = send(
        &mut sender,
        "POST",
        &format!("/v2/partners/{company}"),
        &token(partner_id),
        body.into(),
    )
    .await
    .expect("the batch is answered");
    (status, started.elapsed())
}

/// What `runs` fresh 10,000-registration batches posted by the first partner measured: the
/// median records/s, a body's size, and the (ShopID, InvoiceNumber) of every registration.
struct FreshBatches {
    median: f64,
    /// The ceiling's runs, one after each batch, when there was one.
    ceiling: Option<Turns>,
    bytes: usize,
    keys: Vec<(String, String)>,
}

/// A raw ceiling measured in turn with the gateway's batches: on this machine the speed moves
/// from one minute to the next, so each batch is set against the ceiling run just after it.
trait Ceiling {
    /// Upserts 10,000 fresh rows (`run` keeps them apart); answers rows per second.
    fn run(&mut self, run: usize) -> f64;
}

/// The ceiling's runs beside the gateway's batches.
struct Turns {
    median: f64,
    /// The median of each batch's rate over the ceiling's run just after it.
    ratio: f64,
}

async fn fresh_batches(
    address: &str,
    runs: usize,
    label: &str,
    mut ceiling: Option<&mut (dyn Ceiling + Send)>,
) -> FreshBatches {
    let (company, partner_id) = PARTNERS[0];
    let mut rates = Vec::new();
    let mut ceilings = Vec::new();
    let mut bytes = 0;
    let mut keys = Vec::new();
    for run in 0..runs {
        let prefix = format!("B{run}-");
        let body = registrations_batch(&prefix, 10_000);
        bytes = body.len();
        let (status, took) = post_batch(address, company, partner_id, body).await;
        assert_eq!(status, StatusCode::OK);
        let rate = 10_000.0 / took.as_secs_f64();
        rates.push(rate);
        keys.extend((0..10_000).map(|i| (format!("{:06}", 5000 + i % 50), invoice(&prefix, i))));
        print!("  {label} {run}: {:.2} s", took.as_secs_f64());
        if let Some(ceiling) = ceiling.as_deref_mut() {
            // On a thread of its own: PostgreSQL's blocking client refuses to run inside the
            // bench's runtime.
            let raw = std::thread::scope(|s| s.spawn(|| ceiling.run(run)).join().unwrap());
            ceilings.push(raw);
            print!(", raw ceiling {raw:.0} rows/s, ratio {:.2}", rate / raw);
        }
        println!();
    }
    let ceiling = (!ceilings.is_empty()).then(|| Turns {
        ratio: median(rates.iter().zip(&ceilings).map(|(r, c)| r / c).collect()),
        median: median(ceilings),
    });
    FreshBatches {
        median: median(rates),
        ceiling,
        bytes,
        keys,
    }
}

/// The registrationstatus lookup of one of the first partner's registrations.
fn status_path(shop: &str, inv: &str) -> String {
    format!(
        "/v2/partners/{}?rec=registrationstatus&ShopID={shop}&InvoiceNumber={inv}",
        PARTNERS[0].0
    )
}

/// The registrationstatus answer for one stored registration, as the server sends it.
async fn status_body(address: &str, (shop, inv): &(String, String)) -> String {
    let mut sender = connect(address).await;
    let path = status_path(shop, inv);
    let (status, body) = send(&mut sender, "GET", &path, &token(PARTNERS[0].1), Bytes::new())
        .await
        .expect("the lookup is answered");
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(body.to_vec()).unwrap()
}

struct LookupStats {
    latencies_us: Vec<u32>,
    failures: usize,
    elapsed: Duration,
}

impl LookupStats {
    fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 * p).ceil() as usize).clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// How many threads the lookup load generator runs on (BENCH_CLIENT_THREADS, default 2: as
/// `wrk -t2`). One thread was the floor of the figures on this 2-core machine: it measured the
/// bare server's p99 as its own.
fn client_threads() -> usize {
    env_or("BENCH_CLIENT_THREADS", 2).max(1) as usize
}

/// `connections` keep-alive clients asking registrationstatus of random stored registrations
/// until `stop` says so, spread over `client_threads()` threads of a runtime of their own (so
/// the caller's tasks, such as section (4)'s uploads, go on meanwhile).
async fn lookups(
    address: &str,
    connections: usize,
    keys: &[(String, String)],
    stop: impl Fn() -> bool + Clone + Send + 'static,
) -> LookupStats {
    let address = address.to_owned();
    // Each connection asks its own share of the keys.
    let paths: Vec<Vec<String>> = (0..connections)
        .map(|c| {
            keys.iter()
                .skip(c)
                .step_by(connections.max(1))
                .map(|(shop, inv)| status_path(shop, inv))
                .collect()
        })
        .collect();
    let threads = client_threads();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let started = Instant::now();
            let token = token(PARTNERS[0].1);
            let mut tasks = Vec::new();
            for keys in paths {
                let mut sender = connect(&address).await;
                let stop = stop.clone();
                let token = token.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures = 0;
                    let mut i = 0;
                    while !stop() {
                        let path = &keys[(i * 7919) % keys.len()];
                        i += 1;
                        let t = Instant::now();
                        match send(&mut sender, "GET", path, &token, Bytes::new()).await {
                            Ok((StatusCode::OK, _)) => latencies.push(t.elapsed().as_micros() as u32),
                            _ => failures += 1,
                        }
                    }
                    (latencies, failures)
                }));
            }
            let mut stats = LookupStats {
                latencies_us: Vec::new(),
                failures: 0,
                elapsed: Duration::ZERO,
            };
            for t in tasks {
                let (l, f) = t.await.unwrap();
                stats.latencies_us.extend(l);
                stats.failures += f;
            }
            stats.elapsed = started.elapsed();
            stats
        })
    })
    .await
    .unwrap()
}

/// Which load generator section (3) and (5)'s lookups use: wrk (2 threads, 64 connections, as
/// the issue measured) when it is on the PATH, this process's own hyper client otherwise or
/// when BENCH_LOAD=hyper. wrk is C: it leaves more of the two cores to the server under test.
fn use_wrk() -> bool {
    std::env::var("BENCH_LOAD").map(|v| v != "hyper").unwrap_or(true)
        && Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

/// wrk's script: each of its threads sends the registrationstatus lookups of 4,096 random
/// stored keys (formatted once, in `init`), in turn, and `done` prints what it measured as one
/// JSON line.
const WRK_SCRIPT: &str = r#"
local requests = {}
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  local paths = {}
  for line in io.lines(PATHS) do paths[#paths + 1] = line end
  math.randomseed(id)
  for i = 1, 4096 do
    requests[i] = wrk.format("GET", paths[math.random(#paths)], { ["Authorization"] = "Bearer " .. TOKEN })
  end
end
function request()
  n = n % #requests + 1
  return requests[n]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// What wrk measured, in the same shape as the hyper client's.
struct LookupFigures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: u64,
}

/// `wrk -t2 -c64 -d{secs}s` over the registrationstatus lookups of `keys` at `address`.
fn wrk_lookups(address: &str, keys: &[(String, String)], secs: u64) -> LookupFigures {
    let dir = tempfile::tempdir().unwrap();
    let paths = dir.path().join("paths");
    let lines: Vec<String> = keys.iter().map(|(shop, inv)| status_path(shop, inv)).collect();
    std::fs::write(&paths, lines.join("\n")).unwrap();
    let script = dir.path().join("lookups.lua");
    std::fs::write(
        &script,
        format!(
            "local PATHS = {:?}\nlocal TOKEN = {:?}\n{WRK_SCRIPT}",
            paths.to_str().unwrap(),
            token(PARTNERS[0].1)
        ),
    )
    .unwrap();
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{secs}s"), "-s"])
        .arg(&script)
        .arg(format!("http://{address}/"))
        .output()
        .expect("wrk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no summary: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let field = |name: &str| summary[name].as_u64().unwrap();
    LookupFigures {
        rps: field("requests") as f64 / (field("duration_us") as f64 / 1e6),
        p50_ms: field("p50_us") as f64 / 1000.0,
        p99_ms: field("p99_us") as f64 / 1000.0,
        failures: field("non_2xx") + field("socket_errors"),
    }
}

/// pgbench's script: the gateway's registrationstatus statement (registration, totals, first
/// cancellation) by a random key of those section (1) stored, `B<run>-<i>` at shop 5000 + i % 50.
const PGBENCH_SCRIPT: &str = "\\set run random(0, RUNS)
\\set i random(0, 9999)
SELECT r.id, r.org_id, r.shop_id, r.invoice_number, r.plan_enroll_date, r.created_at, r.tires_covered,
  COALESCE(t.tires_claimed, 0), t.latest_claim_date, COALESCE(t.tires_cancelled, 0),
  c.org_id, c.cancel_shop_id, c.cancel_invoice_number, c.tire_cancel_count, c.cancel_date
FROM registrations r LEFT JOIN registration_totals t ON t.registration_id = r.id
LEFT JOIN cancellations c ON c.id = t.first_cancellation_id
WHERE r.partner_id = 1001 AND r.tenant = 'live' AND r.shop_id = lpad((5000 + :i % 50)::text, 6, '0')
  AND r.invoice_number = 'B' || :run || '-' || lpad(:i::text, 7, '0');
";

/// `pgbench -M prepared -c64 -j2 -T{secs}` with [`PGBENCH_SCRIPT`] on the database at `url`:
/// its transactions/s, and the p50 and p99 of its transactions' latencies (from its
/// per-transaction log; as they ran, without the correction wrk applies for a stalled
/// connection's requests that were never sent, so a stall weighs less here than in wrk's p99).
fn pgbench_lookups(url: &str, runs: usize, secs: u64) -> LookupFigures {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lookup.sql");
    std::fs::write(&script, PGBENCH_SCRIPT.replace("RUNS", &(runs - 1).to_string())).unwrap();
    let log_prefix = dir.path().join("transactions");
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            "64",
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-l",
            "-f",
        ])
        .arg(&script)
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .arg(url)
        .output()
        .expect("pgbench runs (Debian's postgresql-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let number = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "pgbench printed no {prefix:?}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    // Each log line: client, transaction, latency in microseconds, script, epoch s, epoch us.
    let mut latencies_us: Vec<f64> = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("transactions") {
            let text = std::fs::read_to_string(&path).unwrap();
            latencies_us.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok()),
            );
        }
    }
    assert!(!latencies_us.is_empty(), "pgbench logged no transactions: {stdout}");
    latencies_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let percentile_ms = |q: f64| latencies_us[((latencies_us.len() - 1) as f64 * q) as usize] / 1000.0;
    LookupFigures {
        rps: number("tps = "),
        p50_ms: percentile_ms(0.50),
        p99_ms: percentile_ms(0.99),
        failures: number("number of failed transactions: ") as u64,
    }
}

/// The kernel's autogroup switch: each session (setsid) a scheduling group of its own, sharing
/// the CPU equally with every other group. PostgreSQL starts each backend in a session of its
/// own, so with autogroup on, one backend weighs as much as the whole gateway or wrk; on this
/// 2-core machine a busy backend then waits up to seconds at times to be run, and every lookup
/// sent to it waits as long (measured: p99 from 4 ms to over a second from one 8 s run to the
/// next; with it off, p99 3-4 ms in every run). PostgreSQL's own tuning advice is to switch it
/// off on a database host.
const AUTOGROUP: &str = "/proc/sys/kernel/sched_autogroup_enabled";

/// Autogroup switched off while this lives, and back on after.
struct AutogroupOff;

impl AutogroupOff {
    /// Switches it off when it is on and this process may (root), unless BENCH_AUTOGROUP=keep.
    fn switch() -> Option<AutogroupOff> {
        if std::env::var("BENCH_AUTOGROUP").is_ok_and(|v| v == "keep") {
            return None;
        }
        if std::fs::read_to_string(AUTOGROUP).ok()?.trim() != "1" {
            return None;
        }
        std::fs::write(AUTOGROUP, "0").ok()?;
        Some(AutogroupOff)
    }
}

impl Drop for AutogroupOff {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(AUTOGROUP, "1") {
            eprintln!("could not switch {AUTOGROUP} back to 1: {e}");
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The storage ceiling

fn ceiling_registrations(prefix: &str, n: usize) -> Vec<Registration> {
    let enroll: DateTime<Utc> = "2025-06-01T10:00:00Z".parse().unwrap();
    (0..n)
        .map(|i| Registration {
            org_id: "NWTG".into(),
            shop_id: format!("{:06}", 5000 + i % 50),
            invoice_number: invoice(prefix, i),
            plan_enroll_date: enroll,
            employee_id: format!("JP{:04}", i % 97),
            customer_id: format!("5108-{i:06}"),
            vehicle_year: "2019".into(),
            vehicle_make: "GMC TRUCK".into(),
            vehicle_model: "SIERRA 1500 PICKUP".into(),
            vin: format!("2GTEC19C48{i:07}"),
            current_mileage: Some(10_000 + i as i64),
            tires_covered: 4,
            tpp_price: 9968,
            tire_brand: "NIT".into(),
            tire_model: "P265/65R18 112T NITTO CROSSTEK 2".into(),
            tire_size: "2656518".into(),
            tire_price: 18899,
            tire_cost: 10598,
            tire_dot1: "DOT 73C2 KLH0913".into(),
            tire_dot2: "DOT 73C2 KLH0914".into(),
            tire_dot3: String::new(),
            tire_dot4: String::new(),
            tire_dot5: String::new(),
            tire_dot6: String::new(),
            commercial_vehicle: false,
        })
        .collect()
}

/// One column of the ceiling's rows, as the database takes it.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<String>),
    /// A column v2 registrations leave empty (v3's product, customer email, tires).
    NoText(usize),
    Date(Vec<DateTime<Utc>>),
    Flag(Vec<bool>),
}

impl Column {
    /// Row `i`'s value, as SQLite stores it (dates as RFC 3339 text with microseconds, as the
    /// gateway writes them).
    fn sqlite(&self, i: usize) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match self {
            Column::Int(v) => v[i].map_or(V::Null, V::Integer),
            Column::Text(v) => V::Text(v[i].clone()),
            Column::NoText(_) => V::Null,
            Column::Date(v) => V::Text(v[i].to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            Column::Flag(v) => V::Integer(i64::from(v[i])),
        }
    }

    /// The whole column as one PostgreSQL array parameter.
    fn postgres(self) -> Box<dyn postgres::types::ToSql + Sync> {
        match self {
            Column::Int(v) => Box::new(v),
            Column::Text(v) => Box::new(v),
            Column::NoText(n) => Box::new(vec![None::<String>; n]),
            Column::Date(v) => Box::new(v),
            Column::Flag(v) => Box::new(v),
        }
    }
}

/// The columns `names` (every column of the registrations table but `id`) of `rows`, stored as
/// the gateway stores them for partner alpha's live tenant at `now`.
fn ceiling_columns(names: &[String], rows: &[Registration], now: DateTime<Utc>) -> Vec<Column> {
    use warranty_gateway::records::{Record, Value as FieldValue};
    names
        .iter()
        .map(|name| match name.as_str() {
            "partner_id" => Column::Int(vec![Some(PARTNERS[0].1); rows.len()]),
            "tenant" => Column::Text(vec!["live".into(); rows.len()]),
            "created_at" | "updated_at" => Column::Date(vec![now; rows.len()]),
            "revision" => Column::Int(vec![Some(1); rows.len()]),
            // Every registration has a v3 id, unique and rising, as the gateway makes them.
            "v3_id" => Column::Text(rows.iter().map(|_| V3Id::new().to_string()).collect()),
            "product_id" | "customer_email" | "v3_tires" => Column::NoText(rows.len()),
            field => {
                let i = Registration::COLUMNS
                    .iter()
                    .position(|c| *c == field || format!("{c}_cents") == field)
                    .unwrap_or_else(|| panic!("no field for column {field}"));
                let values = rows.iter().map(|r| r.values()[i]);
                match Registration::FIELDS[i].kind {
                    warranty_gateway::wire::Kind::Text(_) => Column::Text(
                        values
                            .map(|v| match v {
                                FieldValue::Text(t) => t.to_owned(),
                                _ => unreachable!(),
                            })
                            .collect(),
                    ),
                    warranty_gateway::wire::Kind::Date => Column::Date(
                        values
                            .map(|v| match v {
                                FieldValue::Date(Some(d)) => d,
                                _ => unreachable!(),
                            })
                            .collect(),
                    ),
                    warranty_gateway::wire::Kind::Flag => Column::Flag(
                        values
                            .map(|v| match v {
                                FieldValue::Flag(b) => b,
                                _ => unreachable!(),
                            })
                            .collect(),
                    ),
                    _ => Column::Int(
                        values
                            .map(|v| match v {
                                FieldValue::Number(n) => n,
                                _ => unreachable!(),
                            })
                            .collect(),
                    ),
                }
            }
        })
        .collect()
}

/// The plain upsert of the ceilings, taking its rows `from` a VALUES or SELECT clause: insert,
/// or overwrite every non-key column but created_at and the v3 id (as the gateway keeps them).
/// No RETURNING, no change detection, no revision arithmetic.
fn plain_upsert(names: &[String], from: &str) -> String {
    let key = ["partner_id", "tenant", "shop_id", "invoice_number"];
    let set: Vec<String> = names
        .iter()
        .filter(|n| !key.contains(&n.as_str()) && *n != "created_at" && *n != "v3_id")
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    format!(
        "INSERT INTO registrations ({}) {from} ON CONFLICT ({}) DO UPDATE SET {}",
        names.join(", "),
        key.join(", "),
        set.join(", ")
    )
}

/// The raw SQLite ceiling: rows per second of `runs` fresh 10,000-registration upserts straight
/// into SQLite through rusqlite, not our store: the gateway's schema and pragmas (WAL,
/// synchronous=FULL), one `BEGIN IMMEDIATE` transaction, one cached plain upsert statement,
/// every value made before the clock starts.
struct SqliteCeiling {
    _dir: tempfile::TempDir,
    conn: rusqlite::Connection,
    names: Vec<String>,
    sql: String,
}

impl SqliteCeiling {
    fn new() -> SqliteCeiling {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ceiling.sqlite3");
        // The gateway's own migrations make the schema; then the store is closed.
        drop(Store::open(&warranty_gateway::config::Database::Sqlite { path: path.clone() }).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('registrations') WHERE name <> 'id' ORDER BY cid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let sql = plain_upsert(&names, &format!("VALUES ({})", placeholders.join(", ")));
        SqliteCeiling {
            _dir: dir,
            conn,
            names,
            sql,
        }
    }
}

impl Ceiling for SqliteCeiling {
    fn run(&mut self, run: usize) -> f64 {
        let rows = ceiling_registrations(&format!("K{run}-"), 10_000);
        let columns = ceiling_columns(&self.names, &rows, Utc::now());
        let values: Vec<Vec<rusqlite::types::Value>> = (0..rows.len())
            .map(|i| columns.iter().map(|c| c.sqlite(i)).collect())
            .collect();
        let started = Instant::now();
        plain_upserts(&mut self.conn, &self.sql, &values);
        rows.len() as f64 / started.elapsed().as_secs_f64()
    }
}

/// The timed part of the SQLite ceiling (its own function, so that `valgrind --tool=callgrind
/// --toggle-collect='*plain_upserts*'` counts exactly it: `cargo bench --bench gateway --
/// --sqlite-ceiling`).
#[inline(never)]
fn plain_upserts(conn: &mut rusqlite::Connection, sql: &str, rows: &[Vec<rusqlite::types::Value>]) {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    {
        let mut stmt = tx.prepare_cached(sql).unwrap();
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row)).unwrap();
        }
    }
    tx.commit().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The lookup ceiling: a bare actix-web server

/// The argument that makes this program the bare server instead of the benchmark.
const BARE_ACTIX: &str = "--bare-actix-server";

/// Serves `route` (made once per worker) at `/v2/partners/{company}` on a port of its own,
/// default workers as the gateway's, with nothing else: no middleware. Prints the port on stdout.
fn serve_bare(route: impl Fn() -> actix_web::Route + Clone + Send + 'static) -> std::io::Result<()> {
    use actix_web::{App, HttpServer};
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        println!("{}", listener.local_addr()?.port());
        HttpServer::new(move || App::new().route("/v2/partners/{company}", route()))
            .listen(listener)?
            .run()
            .await
    })
}

/// A bare actix-web server answering every GET with `body` as JSON: no authentication, no
/// store.
fn bare_actix_server(body: String) -> std::io::Result<()> {
    use actix_web::{HttpResponse, web};
    let body = web::Bytes::from(body);
    serve_bare(move || {
        let body = body.clone();
        web::get().to(move || {
            let body = body.clone();
            async move { HttpResponse::Ok().content_type("application/json").body(body) }
        })
    })
}

/// The argument that makes this program the bare server with a SQLite read, a diagnostic.
const BARE_SQLITE: &str = "--bare-sqlite-server";

/// The read a registrationstatus answer needs, straight through rusqlite: the registration by
/// its key, with its claims' and cancellations' totals (kept beside it, by its id) and its
/// first cancellation joined in by id.
const RAW_STATUS_READ: &str = "SELECT r.id, r.org_id, r.shop_id, r.invoice_number, r.plan_enroll_date, \
     r.created_at, r.tires_covered, t.tires_claimed, t.latest_claim_date, t.tires_cancelled, c.cancel_date \
     FROM registrations r LEFT JOIN registration_totals t ON t.registration_id = r.id \
     LEFT JOIN cancellations c ON c.id = t.first_cancellation_id \
     WHERE r.partner_id = ?1 AND r.tenant = 'live' AND r.shop_id = ?2 AND r.invoice_number = ?3";

/// The bare server plus the one thing a lookup cannot do without: each GET takes ShopID and
/// InvoiceNumber from its query string and runs [`RAW_STATUS_READ`] on the worker thread's own
/// read-only connection to `db` (mapped, as the gateway's readers), then answers `body`
/// (404 if nothing is found). No authentication, no validation, no JSON, no middleware. Not
/// a target: it says how much of the bare server's rate the storage engine's read alone leaves.
fn bare_sqlite_server(db: String, body: String) -> std::io::Result<()> {
    use actix_web::{HttpRequest, HttpResponse, web};
    use rusqlite::{Connection, OpenFlags, types::Value};
    use std::cell::RefCell;
    thread_local! {
        static CONN: RefCell<Option<Connection>> = const { RefCell::new(None) };
    }
    let partner_id = PARTNERS[0].1;
    let body = web::Bytes::from(body);
    serve_bare(move || {
        let (body, db) = (body.clone(), db.clone());
        web::get().to(move |req: HttpRequest| {
            let (mut shop, mut invoice) = (String::new(), String::new());
            for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
                match &*k {
                    "ShopID" => shop = v.into_owned(),
                    "InvoiceNumber" => invoice = v.into_owned(),
                    _ => {}
                }
            }
            let found = CONN.with_borrow_mut(|conn| {
                let conn = conn.get_or_insert_with(|| {
                    let c = Connection::open_with_flags(
                        &db,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .unwrap();
                    c.pragma_update(None, "mmap_size", 1i64 << 30).unwrap();
                    c
                });
                let mut stmt = conn.prepare_cached(RAW_STATUS_READ).unwrap();
                let mut rows = stmt.query(rusqlite::params![partner_id, shop, invoice]).unwrap();
                match rows.next().unwrap() {
                    Some(row) => (0..11).all(|i| row.get::<_, Value>(i).is_ok()),
                    None => false,
                }
            });
            let body = body.clone();
            async move {
                if found {
                    HttpResponse::Ok().content_type("application/json").body(body)
                } else {
                    HttpResponse::NotFound().finish()
                }
            }
        })
    })
}

/// The bare server in a process of its own (as the gateway is), answering `body`; with a
/// SQLite file, the bare server with its read.
struct BareServer {
    child: Child,
    address: String,
}

impl BareServer {
    fn start(body: &str) -> BareServer {
        BareServer::spawn(&[BARE_ACTIX, body])
    }

    fn with_sqlite_read(db: &std::path::Path, body: &str) -> BareServer {
        BareServer::spawn(&[BARE_SQLITE, db.to_str().unwrap(), body])
    }

    fn spawn(args: &[&str]) -> BareServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the bare server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        BareServer {
            child,
            address: format!("127.0.0.1:{}", line.trim()),
        }
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(BARE_ACTIX) {
        bare_actix_server(args.get(2).cloned().unwrap_or_default()).unwrap();
        return;
    }
    if args.get(1).map(String::as_str) == Some(BARE_SQLITE) {
        bare_sqlite_server(args[2].clone(), args.get(3).cloned().unwrap_or_default()).unwrap();
        return;
    }
    if args.iter().any(|a| a == "--sqlite-ceiling") {
        // The SQLite ceiling alone, for a profiler.
        let runs = env_or("BENCH_RUNS", 1) as usize;
        let mut ceiling = SqliteCeiling::new();
        let rates = (0..runs).map(|run| ceiling.run(run)).collect();
        println!("raw SQLite ceiling: {:.0} rows/s", median(rates));
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful: run only
    // when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench --bench gateway`");
        return;
    }
    let runs = env_or("BENCH_RUNS", 5) as usize;
    let lookup_secs = env_or("BENCH_LOOKUP_SECS", 10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(runs, lookup_secs));
}

async fn run(runs: usize, lookup_secs: u64) {
    println!(
        "warranty-gateway benchmark: {} cores, {}",
        cores(),
        Utc::now().format("%Y-%m-%d")
    );
    let (alpha, alpha_id) = PARTNERS[0];

    // (1a) fresh 10k-registration batches, each followed by a run of (2)'s ceiling.
    let server = Server::start();
    let mut ceiling = section(2).then(SqliteCeiling::new);
    let FreshBatches {
        median: ingest_10k,
        ceiling: turns,
        bytes,
        keys,
    } = fresh_batches(
        &server.address,
        runs,
        "10k batch",
        ceiling.as_mut().map(|c| c as &mut (dyn Ceiling + Send)),
    )
    .await;
    let rss_10k = server.peak_rss_mib();
    println!(
        "(1) 10,000-registration batch ({:.1} MB): median {:.0} records/s over {runs} batches; peak RSS {:.0} MiB",
        bytes as f64 / 1e6,
        ingest_10k,
        rss_10k
    );

    // (1b) 50k mixed batches, on a server of their own so its peak RSS is theirs.
    if section(1) {
        let server50 = Server::start();
        let mut rates = Vec::new();
        let mut size = 0;
        for run in 0..3 {
            let (body, n) = mixed_batch(&format!("X{run}-"));
            size = body.len();
            let (status, took) = post_batch(&server50.address, alpha, alpha_id, body).await;
            assert_eq!(status, StatusCode::OK);
            rates.push(n as f64 / took.as_secs_f64());
            println!("  50k batch {run}: {:.2} s", took.as_secs_f64());
        }
        println!(
            "(1) 50,000-record mixed batch ({:.1} MB): median {:.0} records/s over 3 batches; peak RSS {:.0} MiB",
            size as f64 / 1e6,
            median(rates),
            server50.peak_rss_mib()
        );
    }

    // (2) the raw storage ceiling, run in turn with (1)'s batches.
    if let Some(turns) = turns {
        println!(
            "(2) raw SQLite ceiling, 10,000 plain cached upserts through rusqlite in one transaction, run after \
             each of (1)'s batches: median {:.0} rows/s; ratio (1)/(2) = {:.2} (median of the batches' ratios)",
            turns.median, turns.ratio
        );
    }

    // (3) lookups over the stored registrations, and the same load on a bare actix-web server
    // answering a registrationstatus body of the same size.
    if section(3) {
        compare_lookups(
            "(3)",
            &server.address,
            Beside::SqliteRead(&server.database()),
            &keys,
            lookup_secs,
        )
        .await;
    }

    // (4) four partners upload 10k batches at once while lookups run.
    if section(4) {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let uploads = {
            let address = server.address.clone();
            let done = done.clone();
            tokio::task::spawn_local(async move {
                let started = Instant::now();
                let mut posts = Vec::new();
                for (company, id) in PARTNERS {
                    let body = registrations_batch(&format!("P{id}-"), 10_000);
                    let address = address.clone();
                    posts.push(tokio::task::spawn_local(async move {
                        let mut sender = connect(&address).await;
                        let t = Instant::now();
                        let res = send(
                            &mut sender,
                            "POST",
                            &format!("/v2/partners/{company}"),
                            &token(id),
                            body.into(),
                        )
                        .await;
                        (company, res, t.elapsed())
                    }));
                }
                let mut failures = 0;
                for p in posts {
                    let (company, res, took) = p.await.unwrap();
                    match res {
                        Ok((StatusCode::OK, _)) => println!("  {company}: 10k batch in {:.2} s", took.as_secs_f64()),
                        other => {
                            failures += 1;
                            println!("  {company}: FAILED {other:?}");
                        }
                    }
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                (failures, started.elapsed())
            })
        };
        let stop = {
            let done = done.clone();
            move || done.load(std::sync::atomic::Ordering::Relaxed)
        };
        let mut during = lookups(&server.address, 64, &keys, stop).await;
        let (upload_failures, took) = uploads.await.unwrap();
        println!(
            "(4) 4 partners x 10,000 records at once: all in {:.2} s, {upload_failures} uploads failed; lookups meanwhile: \
             {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
            took.as_secs_f64(),
            during.rps(),
            during.percentile_ms(0.50),
            during.percentile_ms(0.99),
            during.failures
        );
    }
    println!("server peak RSS over the whole run: {:.0} MiB", server.peak_rss_mib());
    drop(server);

    if section(6) {
        refusals().await;
    }

    if section(7) {
        trail_search(lookup_secs).await;
    }

    if section(5) {
        postgres(runs, lookup_secs).await;
    }
}

/// One POST on a connection of its own, with `Accept-Encoding: gzip` when asked: the status,
/// the body's length as received, and the time to the whole answer.
async fn post_accepting(
    address: &str,
    company: &str,
    id: i64,
    body: Bytes,
    gzip: bool,
) -> (StatusCode, usize, Duration) {
    let mut sender = connect(address).await;
    let started = Instant::now();
    sender.ready().await.unwrap();
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/v2/partners/{company}"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {}", token(id)));
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let res = sender.send_request(req.body(Full::new(body)).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().len();
    (status, bytes, started.elapsed())
}

/// Section (7): an operator's search of one invoice as the trail grows from 10,000 rows to
/// 1,000,000, against the raw probe of its index on the same file.
async fn trail_search(secs: u64) {
    let (alpha, alpha_id) = PARTNERS[0];
    let server = Server::start();
    let now = Utc::now().timestamp();
    let operator = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": OPERATOR, "role": "support", "iat": now, "exp": now + 8 * 3600}),
        &jsonwebtoken::EncodingKey::from_secret(OPERATOR_SECRET.as_bytes()),
    )
    .unwrap();
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut seeded = Duration::ZERO;
    for batch in 0..100 {
        let prefix = format!("T{batch:03}-");
        let (status, took) = post_batch(&server.address, alpha, alpha_id, registrations_batch(&prefix, 10_000)).await;
        assert_eq!(status, StatusCode::OK);
        seeded += took;
        // A sample of each batch's invoices, searched below.
        keys.extend(
            (0..10_000)
                .step_by(101)
                .map(|i| (format!("{:06}", 5000 + i % 50), invoice(&prefix, i))),
        );
        if batch != 0 && batch != 99 {
            continue;
        }
        let rows = (batch + 1) * 10_000;
        let mut sender = connect(&server.address).await;
        let mut stats = LookupStats {
            latencies_us: Vec::new(),
            failures: 0,
            elapsed: Duration::ZERO,
        };
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(secs) {
            let (shop, inv) = &keys[(i * 7919) % keys.len()];
            i += 1;
            let path = format!("/ops/records?ShopID={shop}&InvoiceNumber={inv}");
            let t = Instant::now();
            match send(&mut sender, "GET", &path, &operator, Bytes::new()).await {
                Ok((StatusCode::OK, body)) if body.len() > 200 => {
                    stats.latencies_us.push(t.elapsed().as_micros() as u32)
                }
                _ => stats.failures += 1,
            }
        }
        stats.elapsed = started.elapsed();
        let probe = trail_probe(&server.database(), &keys, secs);
        println!(
            "(7) trail of {rows} rows: /ops/records {:.0} searches/s, p50 {:.2} ms, p99 {:.2} ms, {} failed; \
             raw probe of its index {:.0}/s, p50 {:.1} us, p99 {:.1} us",
            stats.rps(),
            stats.percentile_ms(0.50),
            stats.percentile_ms(0.99),
            stats.failures,
            probe.rps,
            probe.p50_ms * 1000.0,
            probe.p99_ms * 1000.0,
        );
    }
    println!(
        "(7) 100 batches of 10,000 registrations (each with its trail) in {:.1} s: {:.0} records/s",
        seeded.as_secs_f64(),
        1_000_000.0 / seeded.as_secs_f64()
    );
}

/// The raw thing under a search: the trail's index probed by invoice and shop, straight
/// through rusqlite on the gateway's file, for `secs` seconds.
fn trail_probe(db: &std::path::Path, keys: &[(String, String)], secs: u64) -> LookupFigures {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare_cached("SELECT * FROM batch_records WHERE invoice_number = ?1 AND shop_id = ?2")
        .unwrap();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let (shop, inv) = &keys[(i * 7919) % keys.len()];
        i += 1;
        let t = Instant::now();
        let found = stmt.query_map([inv, shop], |r| r.get::<_, i64>(0)).unwrap().count();
        assert_eq!(found, 1, "{shop}/{inv}");
        latencies.push(t.elapsed().as_nanos() as f64 / 1e6);
    }
    let elapsed = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    LookupFigures {
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        failures: 0,
    }
}

/// Section (6): what a body of 100,000 refused records costs, against the same number
/// accepted, and whether it holds up another partner.
async fn refusals() {
    let (alpha, alpha_id) = PARTNERS[0];
    let (bravo, bravo_id) = PARTNERS[1];
    let refused = Bytes::from(json!({"Registrations": vec![json!({}); 100_000]}).to_string());
    let accepted = Bytes::from(registrations_batch("R-", 100_000));
    for (what, body, gzip, expected) in [
        ("100,000 refused, plain", &refused, false, StatusCode::BAD_REQUEST),
        ("100,000 refused, gzip", &refused, true, StatusCode::BAD_REQUEST),
        ("100,000 accepted, plain", &accepted, false, StatusCode::OK),
        ("100,000 accepted, gzip", &accepted, true, StatusCode::OK),
    ] {
        let server = Server::start();
        let (status, bytes, took) = post_accepting(&server.address, alpha, alpha_id, body.clone(), gzip).await;
        assert_eq!(status, expected, "{what}");
        println!(
            "(6) {what} ({:.1} MB body): answer {:.1} MB in {:.2} s; peak RSS {:.0} MiB",
            body.len() as f64 / 1e6,
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            server.peak_rss_mib()
        );
    }
    let server = Server::start();
    let refusing: Vec<_> = (0..8)
        .map(|_| {
            let (address, body) = (server.address.clone(), refused.clone());
            tokio::task::spawn_local(async move { post_accepting(&address, alpha, alpha_id, body, false).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let one = Bytes::from(registrations_batch("ONE-", 1));
    let (status, _, took) = post_accepting(&server.address, bravo, bravo_id, one, false).await;
    assert_eq!(status, StatusCode::OK);
    let mut slowest = Duration::ZERO;
    for r in refusing {
        let (status, _, t) = r.await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        slowest = slowest.max(t);
    }
    println!(
        "(6) 8 refusals of 100,000 records at once (all answered in {:.2} s): another partner's one-record batch \
         sent 0.3 s in answered in {:.3} s; peak RSS {:.0} MiB",
        slowest.as_secs_f64(),
        took.as_secs_f64(),
        server.peak_rss_mib()
    );
}

/// registrationstatus lookups, 64 connections for `secs` seconds, on the gateway at `address`
/// and on a bare actix-web server answering a body of the same size, in turn for
/// BENCH_LOOKUP_ROUNDS rounds (default 5: this machine's speed moves from one minute to the
/// next, and a ratio of two figures taken minutes apart measures that): each round's figures,
/// the medians, and the median of the rounds' ratios. With `sqlite` (the gateway's file), each
/// round also measures the bare server with the answer's SQLite read (the diagnostic).
/// What else a round of lookups measures, beside the gateway and the bare server.
enum Beside<'a> {
    /// The bare server plus the answer's SQLite read (a diagnostic).
    SqliteRead(&'a std::path::Path),
    /// pgbench's prepared point reads on the gateway's PostgreSQL database (a ceiling).
    Pgbench { url: &'a str, runs: usize },
}

async fn compare_lookups(label: &str, address: &str, beside: Beside<'_>, keys: &[(String, String)], secs: u64) {
    let sqlite = match beside {
        Beside::SqliteRead(db) => Some(db),
        Beside::Pgbench { .. } => None,
    };
    let sample = status_body(address, &keys[0]).await;
    let wrk = use_wrk();
    let generator = if wrk {
        "wrk -t2 -c64".to_owned()
    } else {
        format!("hyper client, {} threads", client_threads())
    };
    let measure = |address: String| {
        let keys = keys.to_vec();
        async move {
            if wrk {
                tokio::task::spawn_blocking(move || wrk_lookups(&address, &keys, secs))
                    .await
                    .unwrap()
            } else {
                let deadline = Instant::now() + Duration::from_secs(secs);
                let mut stats = lookups(&address, 64, &keys, move || Instant::now() >= deadline).await;
                LookupFigures {
                    rps: stats.rps(),
                    p50_ms: stats.percentile_ms(0.50),
                    p99_ms: stats.percentile_ms(0.99),
                    failures: stats.failures as u64,
                }
            }
        }
    };
    let bare = BareServer::start(&sample);
    let bare_read = sqlite.map(|db| BareServer::with_sqlite_read(db, &sample));
    let rounds = env_or("BENCH_LOOKUP_ROUNDS", 5).max(1);
    let (mut ours, mut theirs, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    let mut pgbenches = Vec::new();
    for round in 1..=rounds {
        let g = measure(address.to_owned()).await;
        let b = measure(bare.address.clone()).await;
        print!(
            "  round {round}: gateway {:.0}/s p99 {:.2} ms, bare {:.0}/s p99 {:.2} ms, ratio {:.2}",
            g.rps,
            g.p99_ms,
            b.rps,
            b.p99_ms,
            g.rps / b.rps
        );
        if let Some(server) = &bare_read {
            let r = measure(server.address.clone()).await;
            print!(
                "; bare + SQLite read {:.0}/s p99 {:.2} ms ({:.2} of bare)",
                r.rps,
                r.p99_ms,
                r.rps / b.rps
            );
            reads.push((r, b.rps));
        }
        if let Beside::Pgbench { url, runs } = beside {
            let (url, secs) = (url.to_owned(), secs);
            let p = tokio::task::spawn_blocking(move || pgbench_lookups(&url, runs, secs))
                .await
                .unwrap();
            print!(
                "; pgbench {:.0}/s p99 {:.2} ms, gateway {:.2} of it",
                p.rps,
                p.p99_ms,
                g.rps / p.rps
            );
            pgbenches.push((p, g.rps));
        }
        println!();
        ours.push(g);
        theirs.push(b);
    }
    drop(bare);
    drop(bare_read);
    let ratio = median(ours.iter().zip(&theirs).map(|(g, b)| g.rps / b.rps).collect());
    let summary = |figures: &[LookupFigures]| {
        format!(
            "{:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
            median(figures.iter().map(|f| f.rps).collect()),
            median(figures.iter().map(|f| f.p50_ms).collect()),
            median(figures.iter().map(|f| f.p99_ms).collect()),
            figures.iter().map(|f| f.failures).sum::<u64>()
        )
    };
    println!(
        "{label} registrationstatus, 64 connections ({generator}) over {} registrations, {rounds} rounds of {secs} s \
         (medians): {}",
        keys.len(),
        summary(&ours)
    );
    println!(
        "{label} ceiling, bare actix-web answering the same {}-byte JSON, same load, in turn: {}; ratio {ratio:.2} \
         (median of the rounds')",
        sample.len(),
        summary(&theirs)
    );
    if !pgbenches.is_empty() {
        let ratio = median(pgbenches.iter().map(|(p, g)| g / p.rps).collect());
        println!(
            "{label} ceiling, pgbench -M prepared -c64 -j2: the same lookup statement by random stored keys, \
             in turn: {:.0} transactions/s, p50 {:.2} ms, p99 {:.2} ms, {} failed; the gateway answers {ratio:.2} \
             of its rate (median of the rounds')",
            median(pgbenches.iter().map(|(p, _)| p.rps).collect()),
            median(pgbenches.iter().map(|(p, _)| p.p50_ms).collect()),
            median(pgbenches.iter().map(|(p, _)| p.p99_ms).collect()),
            pgbenches.iter().map(|(p, _)| p.failures).sum::<u64>()
        );
    }
    if !reads.is_empty() {
        let ratio = median(reads.iter().map(|(r, bare)| r.rps / bare).collect());
        let of_gateway = median(ours.iter().zip(&reads).map(|(g, (r, _))| g.rps / r.rps).collect());
        let figures: Vec<LookupFigures> = reads.into_iter().map(|(r, _)| r).collect();
        println!(
            "{label} diagnostic, the bare server plus the answer's SQLite read straight through rusqlite on each \
             worker's connection, in turn: {}; {ratio:.2} of the bare server; the gateway answers {of_gateway:.2} \
             of its rate (medians of the rounds')",
            summary(&figures)
        );
    }
}

/// Whether BENCH_SECTIONS (default: all; "3,5", say) asks for section `n`. Section (1)'s 10k
/// batches always run: the lookups read what they stored.
fn section(n: u32) -> bool {
    std::env::var("BENCH_SECTIONS")
        .map(|v| v.split(',').any(|s| s.trim().parse() == Ok(n)))
        .unwrap_or(true)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// Rows per second of `runs` fresh 10,000-registration upserts, each one `INSERT ... SELECT
/// FROM unnest(...) ON CONFLICT DO UPDATE` in its own transaction, straight through the driver,
/// into a database with the gateway's schema.
struct PostgresCeiling {
    /// Always there but while dropping (see `Drop`).
    client: Option<postgres::Client>,
    names: Vec<String>,
    sql: String,
}

impl PostgresCeiling {
    fn new(url: &str) -> PostgresCeiling {
        warranty_gateway::store::pg::migrate_url(url).unwrap();
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let columns: Vec<(String, String)> = client
            .query(
                "SELECT column_name::text, udt_name::text FROM information_schema.columns \
                 WHERE table_name = 'registrations' AND column_name <> 'id' ORDER BY ordinal_position",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| format!("${}::{ty}[]", i + 1))
            .collect();
        let sql = plain_upsert(&names, &format!("SELECT * FROM unnest({})", arrays.join(", ")));
        PostgresCeiling {
            client: Some(client),
            names,
            sql,
        }
    }
}

impl Drop for PostgresCeiling {
    /// On a thread of its own: the blocking client's drop may not run inside the bench's
    /// runtime (nor while a failed assertion unwinds through it).
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl Ceiling for PostgresCeiling {
    fn run(&mut self, run: usize) -> f64 {
        use postgres::types::ToSql;
        let rows = ceiling_registrations(&format!("K{run}-"), 10_000);
        // One array per column, made before the clock starts.
        let arrays: Vec<Box<dyn ToSql + Sync>> = ceiling_columns(&self.names, &rows, Utc::now())
            .into_iter()
            .map(Column::postgres)
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|a| a.as_ref()).collect();
        let started = Instant::now();
        let mut t = self.client.as_mut().expect("not dropped").transaction().unwrap();
        let n = t.execute(self.sql.as_str(), &params).unwrap();
        t.commit().unwrap();
        assert_eq!(n, 10_000);
        rows.len() as f64 / started.elapsed().as_secs_f64()
    }
}

/// Section (5).
async fn postgres(runs: usize, lookup_secs: u64) {
    let cluster = match Cluster::start() {
        Ok(c) => c,
        Err(e) => {
            println!("(5) PostgreSQL: skipped, no throwaway cluster ({e})");
            return;
        }
    };
    let gateway = PgDatabase::create_on(&cluster.url);
    let server = Server::start_on(&format!("url = \"{}\"", gateway.url));
    // The ceiling writes into a database of its own on the same cluster, after each batch.
    let target = PgDatabase::create_on(&cluster.url);
    let url = target.url.clone();
    let mut ceiling = std::thread::spawn(move || PostgresCeiling::new(&url)).join().unwrap();
    let FreshBatches {
        median: ingest,
        ceiling: turns,
        keys,
        ..
    } = fresh_batches(&server.address, runs, "PostgreSQL 10k batch", Some(&mut ceiling)).await;
    let rss = server.peak_rss_mib();
    let turns = turns.expect("the ceiling ran");
    println!(
        "(5) PostgreSQL 10,000-registration batch: median {ingest:.0} records/s over {runs} batches (peak RSS \
         {rss:.0} MiB); raw ceiling, one unnest upsert through the driver, run after each batch: median {:.0} \
         rows/s; ratio {:.2} (median of the batches' ratios)",
        turns.median, turns.ratio
    );
    drop(ceiling);
    let pgbench = Beside::Pgbench {
        url: &gateway.url,
        runs,
    };
    let autogroup = std::fs::read_to_string(AUTOGROUP).map(|v| v.trim().to_owned());
    println!(
        "(5) lookups with kernel.sched_autogroup_enabled = {} (as this machine runs)",
        autogroup.as_deref().unwrap_or("unknown")
    );
    compare_lookups("(5) PostgreSQL", &server.address, pgbench, &keys, lookup_secs).await;
    if let Some(off) = AutogroupOff::switch() {
        println!("(5) lookups again with kernel.sched_autogroup_enabled = 0 (as PostgreSQL hosts are tuned)");
        let pgbench = Beside::Pgbench {
            url: &gateway.url,
            runs,
        };
        compare_lookups(
            "(5) PostgreSQL, autogroup off",
            &server.address,
            pgbench,
            &keys,
            lookup_secs,
        )
        .await;
        drop(off);
    }
    drop(server);

    // Four partners at once through two instances on one database.
    let shared = PgDatabase::create_on(&cluster.url);
    let url = &shared.url;
    let instances = [
        Server::start_on(&format!("url = \"{url}\"")),
        Server::start_on(&format!("url = \"{url}\"")),
    ];
    let started = Instant::now();
    let mut posts = Vec::new();
    for (i, (company, id)) in PARTNERS.into_iter().enumerate() {
        let address = instances[i % 2].address.clone();
        let body = registrations_batch(&format!("P{id}-"), 10_000);
        posts.push(tokio::task::spawn_local(async move {
            (company, post_batch(&address, company, id, body).await)
        }));
    }
    let mut failures = 0;
    for p in posts {
        let (company, (status, took)) = p.await.unwrap();
        if status == StatusCode::OK {
            println!("  {company}: 10k batch in {:.2} s", took.as_secs_f64());
        } else {
            failures += 1;
            println!("  {company}: FAILED {status}");
        }
    }
    println!(
        "(5) PostgreSQL, 4 partners x 10,000 records at once through 2 instances: all in {:.2} s, {failures} failed",
        started.elapsed().as_secs_f64()
    );
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
