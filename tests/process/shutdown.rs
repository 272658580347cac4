//! Graceful shutdown, on the engine under test: on SIGTERM the server stops accepting, answers
//! the batch in flight (and keeps it), checkpoints an SQLite database and exits 0.

use std::time::Duration;

use serde_json::json;

use crate::binary::*;

#[tokio::test]
async fn sigterm_answers_the_batch_in_flight_keeps_it_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (config, engine) = Engine::write_config(dir.path());
    let mut server = Server::serve(&config);
    let n = 30_000;
    let regs: Vec<_> = (0..n).map(|i| registration(&format!("G{i}"))).collect();
    let body = json!({"Registrations": regs}).to_string();
    let url = server.url("/v2/partners/tirecompany");
    let in_flight = tokio::spawn(async move {
        let res = reqwest::Client::new()
            .post(url)
            .bearer_auth(token())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let results: serde_json::Value = res.json().await.unwrap();
        (status, results.as_array().map(Vec::len))
    });
    // Let the batch reach the server and start on it, then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !in_flight.is_finished(),
        "the batch was answered before the signal: make it bigger"
    );
    server.signal(Signal::TERM);

    // New connections are refused while the batch is still being written.
    let address = server.address.clone();
    let refused = tokio::time::timeout(Duration::from_secs(5), async move {
        while tokio::net::TcpStream::connect(&address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the server kept accepting connections after SIGTERM");

    let (status, results) = in_flight.await.unwrap();
    assert_eq!((status.as_u16(), results), (200, Some(n)));
    let exit = server.wait_exit(Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}");
    let log = server.drain_log();
    assert!(log.contains("graceful shutdown"), "{log}");
    if engine.postgres.is_none() {
        assert!(log.contains("database checkpointed"), "{log}");
        // Checkpointed: the WAL holds nothing the database file lacks.
        let wal = db_path(dir.path()).with_extension("sqlite3-wal");
        assert!(
            std::fs::metadata(&wal).map(|m| m.len() == 0).unwrap_or(true),
            "the WAL was left non-empty"
        );
    }

    // Kept: after a restart every record of the batch is there.
    drop(server);
    let server = Server::serve(&config);
    let res = server
        .get(&format!(
            "/v2/partners/tirecompany?rec=registrations&ShopID=S1&InvoiceNumber=G{}",
            n - 1
        ))
        .await;
    assert_eq!(res.status(), 200);
    let count = engine.texts("SELECT invoice_number FROM registrations").len();
    assert_eq!(count, n);
}
