//! A PostgreSQL outage (only when `WARRANTY_GATEWAY_TEST_POSTGRES` is set; on a cluster of its
//! own, so the other tests' server stays up): with the database stopped, POSTs and GETs answer
//! 503 with Retry-After within a bounded time and /healthz says 503; when the database is back,
//! the gateway serves again by itself, and the batch taken before the outage is still there.
//! The log and start-up failures say why in the server's or the driver's words. A database
//! server killed (SIGKILL) mid-upload loses no answered batch.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::binary::*;
use crate::common_cluster::Cluster;
use crate::metrics::sample;

#[tokio::test]
async fn a_stopped_database_is_a_503_and_the_gateway_comes_back_by_itself() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    let cluster = Cluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config_with(dir.path(), &format!("url = \"{}\"", cluster.url)));
    let before = json!({"Registrations": [registration("OUT1")]});
    assert_eq!(server.post("tirecompany", &before).await.status(), 200);

    cluster.run("pause");
    let lookup = "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=OUT1";
    let started = Instant::now();
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("OUT2")]}))
        .await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["Error"].is_string(), "{body}");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    let res = server.get(lookup).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(server.get("/healthz").await.status(), 503);
    // /metrics still answers, within Prometheus's default scrape timeout (10 s; a scrape past
    // it fails whole, the 503s' counts with it): the counters, and each credential's last use as
    // this instance knows it; the gauges the database holds are left out rather than stale.
    let started = Instant::now();
    let metrics = server.metrics().await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let used = "warranty_gateway_credential_last_used_timestamp_seconds";
    assert!(sample(&metrics, used, &["id=\"1\""]).is_some(), "{metrics}");
    assert!(!metrics.contains("warranty_gateway_partner_late{"), "{metrics}");
    assert!(metrics.contains("warranty_gateway_http_requests_total{"), "{metrics}");
    // The log says why in the driver's or the server's own words, never a bare "db error".
    let log = server.drain_log();
    let reasons = [
        "Connection refused",
        "connection closed",
        "terminating connection due to administrator command (57P01)",
    ];
    assert!(reasons.iter().any(|r| log.contains(r)), "{log}");
    assert!(!log.contains("db error\"") && !log.contains("Caused by"), "{log}");

    cluster.run("resume");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/healthz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the gateway did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server.get(lookup).await.status(), 200);
    // Nothing of the refused POSTs was kept: OUT2 is new now.
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("OUT2")]}))
        .await;
    assert_eq!(res.status(), 200);
    let results: serde_json::Value = res.json().await.unwrap();
    assert_eq!(results[0]["Action"], "inserted", "{results}");
}

/// Start-up on a database that is not there, or a port nobody listens on: stops, saying the
/// server's message and SQLSTATE or the driver's reason, each once.
#[test]
fn a_start_up_failure_says_the_servers_reason_once() {
    let Some(server) = PgDatabase::server() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut missing = url::Url::parse(&server).unwrap();
    missing.set_path("/no_such_database");
    let mut refused = url::Url::parse("postgres://gw@127.0.0.1:1/warranty").unwrap();
    refused.set_query(missing.query());
    for (url, reason) in [
        // The server says 3D000; PgBouncer in front of it, 08P01.
        (missing.as_str(), "database \"no_such_database\" does not exist ("),
        (refused.as_str(), "Connection refused"),
    ] {
        let config = write_config_with(dir.path(), &format!("url = \"{url}\""));
        for command in ["migrate", "serve"] {
            let (code, _, err) = run_cli(&[command], &config);
            assert_ne!(code, 0, "{command} on {url}");
            assert_eq!(err.matches(reason).count(), 1, "{command} on {url}: {err}");
            assert!(!err.contains("db error"), "{err}");
        }
    }
}

/// One client's batches: (invoice prefix, registrations, HTTP status or 0 for no answer).
type Sent = Vec<(String, usize, u16)>;

/// Posts batches of 1..300 registrations named `C<client>-<n>-` until `stop`.
async fn keep_uploading(server_url: String, client_no: usize, stop: tokio::sync::watch::Receiver<bool>) -> Sent {
    let http = reqwest::Client::new();
    let token = token();
    let mut sent = Vec::new();
    let mut n = 0;
    while !*stop.borrow() {
        let prefix = format!("C{client_no}-{n}-");
        let size = 1 + (n * 37 + client_no * 101) % 300;
        let batch: Vec<_> = (0..size).map(|i| registration(&format!("{prefix}{i}"))).collect();
        let status = http
            .post(format!("{server_url}/v2/partners/tirecompany"))
            .bearer_auth(&token)
            .body(json!({"Registrations": batch}).to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        sent.push((prefix, size, status));
        n += 1;
        if status == 503 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sent
}

/// The postmaster SIGKILLed while three clients upload, then started again: meanwhile every
/// answer is 503 (or 200 for a batch committed before), the gateway serves again without a
/// restart, and every batch answered 200 is whole (any other is whole or absent).
#[tokio::test]
async fn a_database_server_killed_mid_upload_loses_no_answered_batch() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    let cluster = Cluster::start().unwrap();
    let db = PgDatabase::create_on(&cluster.url);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config_with(
        dir.path(),
        &format!("url = \"{}\"\npool_size = 4", db.url),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let clients: Vec<_> = (0..3)
        .map(|c| tokio::spawn(keep_uploading(server.url(""), c, stopped.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let killed_at = Instant::now();
    cluster.run("kill");
    // Longer than a request waits for a connection (5 s): the uploads meanwhile are refused.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let lookup = "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=C0-0-0";
    assert_eq!(
        server.get(lookup).await.status(),
        503,
        "a lookup while the database is down"
    );
    let down_for = killed_at.elapsed();
    cluster.run("resume");

    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/healthz").await.status() != 200 {
        assert!(Instant::now() < deadline, "the gateway did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(true).unwrap();
    let mut sent = Vec::new();
    for c in clients {
        sent.extend(c.await.unwrap());
    }
    assert_eq!(server.get(lookup).await.status(), 200);

    let statuses: std::collections::BTreeMap<u16, usize> = sent.iter().fold(Default::default(), |mut m, s| {
        *m.entry(s.2).or_default() += 1;
        m
    });
    assert!(
        statuses.keys().all(|s| [200, 503].contains(s)),
        "only 200 and 503: {statuses:?}"
    );
    assert!(
        statuses.contains_key(&503),
        "the outage ({down_for:?}) was seen: {statuses:?}"
    );
    // The last batch of each client came after the database was back.
    let last: Vec<u16> = (0..3)
        .filter_map(|c| sent.iter().rfind(|s| s.0.starts_with(&format!("C{c}-"))).map(|s| s.2))
        .collect();
    assert_eq!(last, [200, 200, 200], "{statuses:?}");

    let stored = texts(&db.url, "SELECT invoice_number FROM registrations");
    let mut per_batch: std::collections::HashMap<&str, usize> = Default::default();
    for invoice in &stored {
        let prefix_end = invoice.rfind('-').unwrap() + 1;
        *per_batch.entry(&invoice[..prefix_end]).or_default() += 1;
    }
    for (prefix, size, status) in &sent {
        let got = per_batch.get(prefix.as_str()).copied().unwrap_or(0);
        assert!(
            got == *size || (*status != 200 && got == 0),
            "{prefix} (answered {status}) has {got} of {size} registrations"
        );
    }
    println!(
        "{statuses:?} over {} batches; the database was down {down_for:?}",
        sent.len()
    );
}

/// A request waits a bounded time for a database connection: with the one connection of the
/// pool held by a read that waits on a lock, the next read is a 503 within about five seconds,
/// and the held one answers once the lock is gone.
#[tokio::test]
async fn a_request_waits_for_a_connection_a_bounded_time_then_503() {
    let Some(db) = PgDatabase::create() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config_with(
        dir.path(),
        &format!("url = \"{}\"\npool_size = 1", db.url),
    ));
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("WAIT1")]}))
        .await;
    assert_eq!(res.status(), 200);

    // Another session holds the table for eight seconds.
    let url = db.url.clone();
    let locker = std::thread::spawn(move || {
        with_client(&url, |c| {
            c.batch_execute("BEGIN; LOCK TABLE registrations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT")
                .unwrap()
        })
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let lookup = "/v2/partners/tirecompany?rec=registrations&ShopID=S1&InvoiceNumber=WAIT1";
    let held = tokio::spawn({
        let url = server.url(lookup);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token())
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let res = server.get(lookup).await;
    let waited = started.elapsed();
    assert_eq!(res.status(), 503, "the second read found no connection");
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
    assert_eq!(held.await.unwrap(), 200, "the held read answers once the lock is gone");
    locker.join().unwrap();
}
