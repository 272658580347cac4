//! `warranty-gateway backup --to FILE` while the server takes batches: the copy is whole (every
//! batch answered before it began, no batch in part), passes its integrity check, and serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::binary::*;

const PER_BATCH: usize = 200;

fn batch(n: usize) -> serde_json::Value {
    let regs: Vec<_> = (0..PER_BATCH).map(|i| registration(&format!("B{n}-{i}"))).collect();
    json!({ "Registrations": regs })
}

fn backup(config: &std::path::Path, to: &std::path::Path) -> (i32, String, String) {
    run_cli(&["backup", "--to", to.to_str().unwrap()], config)
}

#[tokio::test]
async fn an_online_backup_is_whole_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    for n in 0..5 {
        assert_eq!(server.post("tirecompany", &batch(n)).await.status(), 200);
    }
    // Batches keep coming while the copy is made.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, stop) = (server.url("/v2/partners/tirecompany"), Arc::clone(&stop));
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 5;
            while !stop.load(Ordering::Relaxed) {
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
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let copy = dir.path().join("copy.sqlite3");
    let (code, out, err) = tokio::task::spawn_blocking({
        let (config, copy) = (config.clone(), copy.clone());
        move || backup(&config, &copy)
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let posted = writer.await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("integrity ok"), "{out}");
    assert!(posted > 5);

    // Whole: the first five batches, and only whole batches; no WAL beside it.
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let count: usize = conn
        .query_row("SELECT count(*) FROM registrations", [], |r| r.get(0))
        .unwrap();
    assert!(
        count >= 5 * PER_BATCH && count.is_multiple_of(PER_BATCH),
        "{count} registrations"
    );
    drop(conn);
    assert!(!dir.path().join("copy.sqlite3-wal").exists());

    // A second backup to the same file is refused, and leaves it as it was.
    let before = std::fs::read(&copy).unwrap();
    let (code, _, err) = backup(&config, &copy);
    assert_eq!(code, 2);
    // Said as the file's trouble it is, not as a database error.
    assert!(
        err.ends_with(&format!("{} exists already; back up to a new file\n", copy.display())),
        "{err}"
    );
    assert!(!err.contains("database error"), "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), before);

    // The copy serves.
    let restored = tempfile::tempdir().unwrap();
    let restored_config = write_config(restored.path());
    std::fs::create_dir_all(restored.path().join("db")).unwrap();
    std::fs::copy(&copy, db_path(restored.path())).unwrap();
    let second = Server::serve(&restored_config);
    let res = second
        .get("/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=B4-199")
        .await;
    assert_eq!(res.status(), 200);
}
