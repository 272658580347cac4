//! `warranty-gateway backup --to FILE` while the server takes batches: the copy is whole (every
//! batch answered before it began, no batch in part), passes its integrity check, and serves.

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
    let writer = Posting::start(&server, 5, batch);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let copy = dir.path().join("copy.sqlite3");
    let (code, out, err) = tokio::task::spawn_blocking({
        let (config, copy) = (config.clone(), copy.clone());
        move || backup(&config, &copy)
    })
    .await
    .unwrap();
    let posted = writer.stop().await;
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

/// The backups in `folder` named as `backup --into` names them, oldest first.
fn copies_in(folder: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("warranty-gateway-") && n.ends_with(".sqlite3"))
        .collect();
    names.sort();
    names
}

/// What the shipped timer's service runs (deploy/systemd), with this test's folder for the
/// installed one; the config is the test's (`run_cli` gives it), in place of the installed one.
fn shipped_backup_command(folder: &std::path::Path) -> Vec<String> {
    let unit = include_str!("../../deploy/systemd/warranty-gateway-backup.service");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    let line = line.replace("/var/lib/warranty-gateway/backups", folder.to_str().unwrap());
    let line = line
        .strip_prefix("/usr/local/bin/warranty-gateway ")
        .expect("the installed binary")
        .replace("--config /etc/warranty-gateway/config.toml", "");
    line.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test]
async fn the_daily_backup_keeps_the_newest_copies_and_the_server_knows_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[[operators]]\nname = \"olaf\"\nrole = \"support\"\nsecret = \"operator-olafs-own-secret-0123456789abcdef\"\n"),
    )
    .unwrap();
    let server = Server::serve(&config);
    assert_eq!(server.post("tirecompany", &batch(0)).await.status(), 200);
    let (code, operator, err) = run_cli(&["token", "--operator", "olaf"], &config);
    assert_eq!(code, 0, "{err}");
    let ops_server = || async {
        let res = reqwest::Client::new()
            .get(server.url("/ops/server"))
            .bearer_auth(operator.trim())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let gauge = "warranty_gateway_last_backup_timestamp_seconds";
    assert!(ops_server().await["last_backup"].is_null());
    assert!(!server.metrics().await.contains(&format!("\n{gauge} ")));

    // The shipped timer's command, four days running (a second apart: a copy is named by its
    // second), keeps the newest copies it names and touches nothing else in the folder.
    let folder = dir.path().join("backups");
    let command = shipped_backup_command(&folder);
    let keep: usize = command[command.iter().position(|w| w == "--keep").unwrap() + 1]
        .parse()
        .unwrap();
    assert!(keep >= 7, "a week at least: {command:?}");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("before-upgrade.sqlite3"), b"the operator's own").unwrap();
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let runs = 3;
    let mut made = Vec::new();
    for _ in 0..keep + runs {
        let (code, out, err) = run_cli(&args, &config);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("integrity ok") && err.is_empty(), "{out}{err}");
        made.push(out.split(" to ").nth(1).unwrap().split(' ').next().unwrap().to_owned());
        std::thread::sleep(std::time::Duration::from_millis(1_000));
    }
    let kept = copies_in(&folder);
    let newest: Vec<String> = made[runs..]
        .iter()
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(kept, newest);
    assert!(folder.join("before-upgrade.sqlite3").exists());

    // Each copy is whole; the server tells of the last one, as do its metrics.
    let conn = rusqlite::Connection::open(folder.join(kept.last().unwrap())).unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM registrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, PER_BATCH as i64);
    let last = ops_server().await["last_backup"].clone();
    assert_eq!(last["file"], made.last().unwrap().as_str(), "{last}");
    assert_eq!(
        last["bytes"].as_u64().unwrap(),
        std::fs::metadata(folder.join(kept.last().unwrap())).unwrap().len()
    );
    let finished = chrono::DateTime::parse_from_rfc3339(last["finished_at"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - finished.to_utc()).num_seconds() < 30, "{last}");
    let metrics = server.metrics().await;
    let at = crate::metrics::sample(&metrics, gauge, &[]).unwrap_or_else(|| panic!("{metrics}"));
    assert_eq!(at as i64, finished.timestamp());

    // Only with a folder: --keep alone, or with --to, is refused.
    let (code, _, err) = run_cli(&["backup", "--to", "x.sqlite3", "--keep", "2"], &config);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_cli(&["backup"], &config);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--to") && err.contains("--into"), "{err}");
}

/// tirecompany's registrationstatus of one invoice at shop S1: 200 when stored, 204 when not.
async fn status_of(server: &Server, invoice: &str) -> u16 {
    let path = format!("/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber={invoice}");
    server.get(&path).await.status().as_u16()
}

#[tokio::test]
async fn a_restore_puts_the_backup_back_and_keeps_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    assert_eq!(server.post("tirecompany", &batch(0)).await.status(), 200);
    let copy = dir.path().join("copy.sqlite3");
    assert_eq!(backup(&config, &copy).0, 0);
    assert_eq!(server.post("tirecompany", &batch(1)).await.status(), 200);
    let restore = |from: &std::path::Path| run_cli(&["restore", "--from", from.to_str().unwrap()], &config);

    // Not under a server that serves the database: nothing is touched.
    let (code, _, err) = restore(&copy);
    assert_eq!(code, 2);
    assert!(
        err.contains("a server is serving") && err.contains("stop it first"),
        "{err}"
    );
    assert_eq!(status_of(&server, "B1-0").await, 200);
    drop(server);

    // Nothing but a whole gateway database of a schema this build serves is put in place.
    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, "not a database").unwrap();
    let (code, _, err) = restore(&junk);
    assert_eq!(code, 2);
    assert!(err.contains("not a readable SQLite database"), "{err}");
    let newer = dir.path().join("newer.sqlite3");
    std::fs::copy(&copy, &newer).unwrap();
    migrated_by_a_newer_build(&newer, 99, OlderBuilds::MayNotServe);
    let (code, _, err) = restore(&db_path(dir.path()));
    assert_eq!(code, 2);
    assert!(err.contains("is the database itself"), "{err}");
    let (code, _, err) = restore(&newer);
    assert_eq!(code, 2);
    assert!(
        err.contains("newer warranty-gateway") && err.contains("V99__from_a_newer_build"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(dir.path().join("db")).unwrap().all(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            !name.contains("before-restore")
        }),
        "a refused restore moved the database aside"
    );

    // The folder is the service's (root restores at 2 a.m.): what the restore writes is its too.
    let service = if rustix::process::geteuid().is_root() {
        let nobody = Some(65534);
        std::os::unix::fs::chown(dir.path().join("db"), nobody, nobody).unwrap();
        nobody
    } else {
        None
    };
    // A backup a newer build made, whose schema lets this build serve it (a rollback after a
    // rolling upgrade) is put back, and said.
    migrated_by_a_newer_build(&copy, 98, OlderBuilds::MayServe);
    let (code, out, err) = restore(&copy);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("a newer build migrated it, and its schema lets this build (V"),
        "{out}"
    );
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("the database as it was is kept as "))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let kept = dir
        .path()
        .join(&kept)
        .canonicalize()
        .unwrap_or_else(|_| std::path::PathBuf::from(&kept));
    if let Some(owner) = service {
        use std::os::unix::fs::MetadataExt;
        let db = std::fs::metadata(db_path(dir.path())).unwrap();
        assert_eq!((db.uid(), db.gid()), (owner, owner));
        assert_eq!(db.mode() & 0o777, 0o600);
    }

    // It knows of the backup it came from, made after it was copied: the last backup made is
    // still the last one known.
    assert!(
        out.contains("it knows of the 1 backup(s) made since it was copied"),
        "{out}"
    );
    let (_, checked, _) = run_cli(&["check"], &config);
    let copy = copy.canonicalize().unwrap();
    let last = checked
        .lines()
        .find(|l| l.starts_with("backup"))
        .unwrap_or_else(|| panic!("{checked}"));
    assert!(last.contains(&copy.display().to_string()), "{last}");

    // It serves what the backup held: the first batch, not the one after.
    let server = Server::serve(&config);
    assert_eq!(status_of(&server, "B0-199").await, 200);
    assert_eq!(status_of(&server, "B1-0").await, 204);
    drop(server);
    // The database as it was is whole beside it, the second batch in it.
    let conn = rusqlite::Connection::open(&kept).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let count: usize = conn
        .query_row("SELECT count(*) FROM registrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2 * PER_BATCH);
}

/// A server that holds no lock (a build from before it) is still found out: by its address.
#[test]
fn a_restore_refuses_while_the_servers_address_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, _, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    let copy = dir.path().join("copy.sqlite3");
    assert_eq!(backup(&config, &copy).0, 0);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &address);
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = run_cli(&["restore", "--from", copy.to_str().unwrap()], &config);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("something listens on server.bind {address}")),
        "{err}"
    );
    drop(taken);
    let (code, out, err) = run_cli(&["restore", "--from", copy.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{out}{err}");
}
