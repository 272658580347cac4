//! A full disk under the database, for real: a small tmpfs (root may mount one). Every POST is
//! a 503 the client can retry, /healthz says why, reads keep answering, and once space is freed
//! the gateway serves again without a restart, having lost and half-written nothing.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common_small_disk::SmallDisk;
use crate::helpers::*;

const TEST: &str = "tirecompany_test";

fn registrations(prefix: &str, n: usize) -> Value {
    let regs: Vec<Value> = (0..n).map(|i| registration("FULL", &format!("{prefix}-{i}"))).collect();
    json!({ "Registrations": regs })
}

async fn get_status(app: &TestApp, invoice: &str) -> StatusCode {
    app.get(TEST, &format!("rec=registrations&ShopID=FULL&InvoiceNumber={invoice}"))
        .await
        .0
}

async fn health(app: &TestApp) -> (StatusCode, Value, Option<String>) {
    let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(res).await;
    (status, body, retry)
}

fn registration_count(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    conn.query_row("SELECT count(*) FROM registrations", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_full_disk_is_a_503_until_space_is_freed() {
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    let app = spawn_app_in(tempfile::tempdir_in(&disk.path).unwrap()).await;

    // Batches answered 200 before the disk fills.
    for b in 0..5 {
        let (status, body) = app.post(TEST, &registrations(&format!("OK{b}"), 20)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(health(&app).await.0, StatusCode::OK);

    let filler = disk.fill();
    // Every POST now: 503, Retry-After, a JSON Error saying nothing was written.
    for attempt in 0..3 {
        let res = app
            .post_raw(TEST, &token(), registrations("REFUSED", 2000).to_string())
            .await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "attempt {attempt}");
        assert!(res.headers().contains_key("retry-after"));
        let (_, body) = json_of(res).await;
        let error = body["Error"].as_str().unwrap();
        assert!(error.contains("full") && error.contains("nothing"), "{error}");
    }
    let (status, body) = app.post(TEST, &registrations("SMALL", 1)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The health check says so, with a reason, so a load balancer stops sending.
    let (status, body, retry) = health(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["Error"].as_str().unwrap().contains("full"), "{body}");
    assert!(retry.is_some());
    // Reads keep answering: what was stored, and nothing of what was refused.
    assert_eq!(get_status(&app, "OK0-0").await, StatusCode::OK);
    assert_eq!(get_status(&app, "OK4-19").await, StatusCode::OK);
    assert_eq!(get_status(&app, "REFUSED-0").await, StatusCode::NO_CONTENT);
    assert_eq!(get_status(&app, "SMALL-0").await, StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(TEST, "rec=registrationstatus&ShopID=FULL&InvoiceNumber=OK1-3")
        .await;
    assert_eq!(status, StatusCode::OK);

    // Space freed: the gateway serves again by itself.
    std::fs::remove_file(&filler).unwrap();
    let (status, body, _) = health(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post(TEST, &registrations("AFTER", 2000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every batch answered 200 is whole and readable; no refused batch left a record.
    for invoice in ["OK0-0", "OK2-7", "OK4-19", "AFTER-0", "AFTER-1999"] {
        assert_eq!(get_status(&app, invoice).await, StatusCode::OK, "{invoice}");
    }
    assert_eq!(get_status(&app, "REFUSED-0").await, StatusCode::NO_CONTENT);
    assert_eq!(get_status(&app, "REFUSED-1999").await, StatusCode::NO_CONTENT);
    assert_eq!(get_status(&app, "SMALL-0").await, StatusCode::NO_CONTENT);
    assert_eq!(registration_count(&app.db_path()), 5 * 20 + 2000);
    app.stop().await;
}
