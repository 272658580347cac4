//! Behind PgBouncer, as operators of several instances run it, with PgBouncer's default
//! settings, in transaction mode and in session mode: the gateway starts (no startup option a
//! pooler refuses), serves three clients at once, is SIGKILLed while they upload and serves
//! again after a restart. The server connections it gets already hold prepared statements of
//! the names a driver gives its own (`s0`, `s1`...), left there by another process, as after a
//! restart: the gateway never prepares a named statement, so they are no matter. (Only when
//! `WARRANTY_GATEWAY_TEST_POSTGRES` is set; needs Debian's pgbouncer.)

use std::time::Duration;

use serde_json::json;

use crate::binary::*;
use crate::common_cluster::Cluster;

const CLIENTS: usize = 3;

/// Leaves statements `s0`..`s29` prepared on as many of the pooler's server connections to
/// `url` as `sessions` clients hold at once (each holds one through a transaction).
fn leave_prepared_statements(url: &str, sessions: usize) {
    let workers: Vec<_> = (0..sessions)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || {
                with_client(&url, |c| {
                    let prepare: String = (0..30).map(|i| format!("PREPARE s{i} AS SELECT {i};")).collect();
                    c.batch_execute(&format!("BEGIN; {prepare} SELECT pg_sleep(0.5); COMMIT"))
                        .unwrap();
                })
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

/// `CLIENTS` clients posting batches of `size` registrations, `round` naming them, at once:
/// which were answered 200.
async fn upload(server: &Server, round: usize, size: usize) -> Vec<(String, bool)> {
    let client = reqwest::Client::new();
    let token = token();
    let mut uploads = Vec::new();
    for c in 0..CLIENTS {
        let prefix = format!("P{round}-{c}-");
        let batch: Vec<_> = (0..size).map(|i| registration(&format!("{prefix}{i}"))).collect();
        let request = client
            .post(server.url("/v2/partners/tirecompany"))
            .bearer_auth(&token)
            .body(json!({"Registrations": batch}).to_string())
            .timeout(Duration::from_secs(30))
            .send();
        uploads.push(tokio::spawn(async move {
            let answered = matches!(request.await, Ok(res) if res.status() == 200);
            (prefix, answered)
        }));
    }
    let mut done = Vec::new();
    for u in uploads {
        done.push(u.await.unwrap());
    }
    done
}

async fn serves_behind(mode: &str) {
    let cluster = Cluster::start_pgbouncer(mode).unwrap_or_else(|e| panic!("{e}"));
    let db = PgDatabase::create_on(&cluster.url);
    leave_prepared_statements(&db.url, 8);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &format!("url = \"{}\"\npool_size = 4", db.url));
    // `check` reads the schema through the pooler as migrations do (the simple protocol).
    let (code, out, err) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{mode}: {out}{err}");
    assert!(out.contains("has no migration yet"), "{mode}: {out}");

    let server = Server::serve(&config);
    let (code, out, err) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{mode}: {out}{err}");
    assert!(out.contains("this build's schema"), "{mode}: {out}");
    for round in 0..3 {
        let answered = upload(&server, round, 200).await;
        assert!(answered.iter().all(|(_, ok)| *ok), "{mode}: {answered:?}");
    }
    let lookup = "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=P2-0-7";
    assert_eq!(server.get(lookup).await.status(), 200, "{mode}");

    // SIGKILL while the three clients upload: whatever was answered 200 is whole, whatever
    // was not is absent or whole.
    let uploading = upload(&server, 3, 2000);
    let kill = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        server.signal(Signal::KILL);
    };
    let (in_flight, ()) = tokio::join!(uploading, kill);
    drop(server);

    let server = Server::serve(&config);
    for round in 4..6 {
        let answered = upload(&server, round, 200).await;
        assert!(
            answered.iter().all(|(_, ok)| *ok),
            "{mode} after the restart: {answered:?}"
        );
    }
    assert_eq!(server.get(lookup).await.status(), 200, "{mode}");
    let res = server.get("/healthz").await;
    assert_eq!(res.status(), 200, "{mode}");

    let engine_rows = texts(&db.url, "SELECT invoice_number FROM registrations");
    for (prefix, answered) in &in_flight {
        let stored = engine_rows.iter().filter(|i| i.starts_with(prefix.as_str())).count();
        assert!(
            stored == 2000 || (!answered && stored == 0),
            "{mode}: {prefix} (answered: {answered}) has {stored} of 2000"
        );
    }
    for round in [0, 1, 2, 4, 5] {
        for c in 0..CLIENTS {
            let prefix = format!("P{round}-{c}-");
            let stored = engine_rows.iter().filter(|i| i.starts_with(prefix.as_str())).count();
            assert_eq!(stored, 200, "{mode}: {prefix}");
        }
    }
}

#[tokio::test]
async fn behind_pgbouncer_in_transaction_and_session_mode_restarts_included() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    for mode in ["transaction", "session"] {
        serves_behind(mode).await;
    }
}
