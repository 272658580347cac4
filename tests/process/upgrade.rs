//! Upgrading as docs/deploying.md ("Upgrading") says, with the binary: a database an earlier
//! build made and filled is backed up, migrated and served, and every answer that build gave is
//! given again; the backup is the database as it was, to roll back to; a database a newer build
//! migrated is refused, not guessed at.

use std::process::Command;

use crate::answers;
use crate::binary::*;

const OTHER_SECRET: &str = "process-test-secret-for-othercompany-0123456789";

#[tokio::test]
async fn an_upgrade_keeps_every_answer_and_leaves_a_backup_to_roll_back_to() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warranty-gateway.sqlite3");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/databases/v2-build.sqlite3"),
        &db,
    )
    .unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\nmax_body_bytes = 67108864\n\n\
             [database]\npath = \"warranty-gateway.sqlite3\"\n\n\
             [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nsecret_env = \"{SECRET_ENV}\"\nplan_term_months = 36\n\n\
             [[partners]]\ncompany = \"othercompany\"\npartner_id = 2002\nsecret = \"{OTHER_SECRET}\"\nplan_term_months = 12\n"
        ),
    )
    .unwrap();

    // 1. Back up, with the build that is running (the online copy works whichever build reads).
    let backup = dir.path().join("before-upgrade.sqlite3");
    let (code, _, stderr) = run_cli(&["backup", "--to", backup.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{stderr}");
    // 2. With the new binary in place: migrate, then serve.
    let (code, migrated, stderr) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(migrated.contains("applied V1__"), "{migrated}");
    assert!(!migrated.contains("nothing to do"), "{migrated}");
    let (code, again, _) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0);
    assert!(again.contains("(nothing to do)"), "{again}");
    let mut server = Server::serve(&config);
    let tokens: Vec<(String, String)> = ["tirecompany", "othercompany"]
        .into_iter()
        .map(|company| {
            let (code, token, stderr) = run_cli(&["token", "--company", company], &config);
            assert_eq!(code, 0, "{stderr}");
            (company.to_owned(), token.trim().to_owned())
        })
        .collect();
    let client = reqwest::Client::new();
    for answer in answers::recorded() {
        let company = answer.company.trim_end_matches("_test");
        let token = &tokens.iter().find(|(c, _)| c == company).unwrap().1;
        let res = client
            .get(server.url(&format!("/v2/partners/{}{}", answer.company, answer.path)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        answer.assert_same(status, body);
    }
    server.signal(Signal::TERM);
    assert!(server.wait_exit(std::time::Duration::from_secs(30)).success());

    // 3. Rolling back puts the backup in the database's place: it is the database as the
    // earlier build left it, whole, with none of the new build's migrations.
    let conn = rusqlite::Connection::open(&backup).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let migrations: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'refinery_schema_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(migrations, 0, "the backup was taken before the migration");
    let registrations: i64 = conn
        .query_row("SELECT count(*) FROM registrations", [], |r| r.get(0))
        .unwrap();
    assert!(registrations > 0);

    // A database a newer build migrated: the older binary refuses it and says so.
    migrated_by_a_newer_build(&db, 999, OlderBuilds::MayNotServe);
    for command in ["serve", "migrate"] {
        let out = Command::new(BIN)
            .args([command, "--config"])
            .arg(&config)
            .env(SECRET_ENV, SECRET)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("made by a newer warranty-gateway"),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("V999__from_a_newer_build"), "{command}: {stderr}");
    }
}
