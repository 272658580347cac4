//! A PostgreSQL outage (only when `WARRANTY_GATEWAY_TEST_POSTGRES` is set; on a cluster of its
//! own, so the other tests' server stays up): with the database stopped, POSTs and GETs answer
//! 503 with Retry-After within a bounded time and /healthz says 503; when the database is back,
//! the gateway serves again by itself, and the batch taken before the outage is still there.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::binary::*;

const CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/cluster.sh");

/// A throwaway cluster, stopped and removed on drop.
struct Cluster {
    dir: String,
    url: String,
}

impl Cluster {
    fn start() -> Cluster {
        let out = Command::new("bash").args([CLUSTER, "start"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_owned()
        };
        Cluster {
            url: value("WARRANTY_GATEWAY_TEST_POSTGRES"),
            dir: value("PG_TEST_CLUSTER"),
        }
    }

    fn run(&self, what: &str) {
        let status = Command::new("bash").args([CLUSTER, what, &self.dir]).status().unwrap();
        assert!(status.success(), "cluster.sh {what}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").args([CLUSTER, "stop", &self.dir]).status();
    }
}

fn write_pg_config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let config = write_config(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[database]").unwrap();
    let end = text.find("[[partners]]").unwrap();
    let text = format!("{}[database]\nurl = \"{url}\"\n\n{}", &text[..start], &text[end..]);
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test]
async fn a_stopped_database_is_a_503_and_the_gateway_comes_back_by_itself() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_pg_config(dir.path(), &cluster.url));
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
