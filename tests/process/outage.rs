//! A PostgreSQL outage (only when `WARRANTY_GATEWAY_TEST_POSTGRES` is set; on a cluster of its
//! own, so the other tests' server stays up): with the database stopped, POSTs and GETs answer
//! 503 with Retry-After within a bounded time and /healthz says 503; when the database is back,
//! the gateway serves again by itself, and the batch taken before the outage is still there.
//! The log and start-up failures say why in the server's or the driver's words.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::binary::*;
use crate::common_cluster::Cluster;

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
