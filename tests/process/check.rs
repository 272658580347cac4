//! `warranty-gateway check`: whether serve would start on a config, said part by part, with
//! nothing started, migrated or made.

use std::net::TcpListener;

use crate::binary::*;

/// The report's line for `part`.
fn line<'o>(out: &'o str, part: &str) -> &'o str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(part))
        .unwrap_or_else(|| panic!("no {part} line in:\n{out}"))
}

/// The config with `[server]` given these lines too.
fn with_server(config: &std::path::Path, lines: &str) {
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("[server]\n", &format!("[server]\n{lines}"));
    std::fs::write(config, text).unwrap();
}

#[test]
fn a_new_box_checks_out_without_its_database_being_made() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, out, err) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}{err}");
    let latest = warranty_gateway::store::latest_migration();
    assert!(line(&out, "config").contains("1 partner, 0 operators"), "{out}");
    assert!(
        line(&out, "listen").contains(" ok ") && line(&out, "listen").contains("is free"),
        "{out}"
    );
    assert!(line(&out, "https").contains("off: plain HTTP"), "{out}");
    let database = line(&out, "database");
    assert!(
        database.contains(" ok ")
            && database.contains("does not exist yet: serve makes it")
            && database.contains(&format!("V{}__{}", latest.version, latest.name)),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("serve would start on {}\n", config.display())),
        "{out}"
    );
    assert!(!db_path(dir.path()).exists(), "check made the database");
    assert!(!db_path(dir.path()).parent().unwrap().exists(), "check made its folder");
}

#[test]
fn the_schema_is_read_against_this_build_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    let latest = warranty_gateway::store::latest_migration();
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "database").contains(&format!(
            "is at V{}__{}, this build's schema",
            latest.version, latest.name
        )),
        "{out}"
    );

    // A newer build migrated it, and its schema lets this build serve it (a rolling upgrade):
    // a warning to upgrade this instance.
    migrated_by_a_newer_build(&db_path(dir.path()), 98, OlderBuilds::MayServe);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "database").contains(&format!(
            "warning  {} is at V98__from_a_newer_build, a newer build's schema, which this build (V{}__{}) may serve: \
             upgrade this instance",
            db_path(dir.path()).display(),
            latest.version,
            latest.name
        )),
        "{out}"
    );
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    conn.execute("DELETE FROM refinery_schema_history WHERE version = 98", [])
        .unwrap();

    // A database from the build before: the last migration is still to come, and check does
    // not apply it.
    let history = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM refinery_schema_history", [], |r| r.get(0))
            .unwrap()
    };
    conn.execute(
        "DELETE FROM refinery_schema_history WHERE version = ?1",
        [latest.version],
    )
    .unwrap();
    let before = history(&conn);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    let database = line(&out, "database");
    assert!(
        database.contains(&format!("is at V{}__", latest.version - 1))
            && database.contains(&format!("applies V{}__{} at start", latest.version, latest.name))
            && database.contains(&format!(
                "builds before V{} may not serve it then: stop every instance of them first",
                warranty_gateway::store::needs_migration().unwrap()
            )),
        "{out}"
    );
    assert_eq!(history(&conn), before, "check migrated");

    // One a newer build migrated: serve refuses it, and check says so.
    migrated_by_a_newer_build(&db_path(dir.path()), 99, OlderBuilds::MayNotServe);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    let database = line(&out, "database");
    assert!(
        database.contains("FAILED")
            && database.contains("newer warranty-gateway")
            && database.contains("V99__from_a_newer_build"),
        "{out}"
    );
    assert!(
        out.contains("serve would not start on") && out.contains("1 failure"),
        "{out}"
    );

    // A migration changed after it was applied: migrating refuses it.
    conn.execute("DELETE FROM refinery_schema_history WHERE version = 99", [])
        .unwrap();
    conn.execute(
        "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1",
        [],
    )
    .unwrap();
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "database").contains("V1__records is not this build's"),
        "{out}"
    );
    let (code, _, err) = run_cli(&["migrate"], &config);
    assert_ne!(code, 0, "migrate took a changed migration: {err}");
}

#[test]
fn the_last_backup_is_reported_and_one_over_26_hours_old_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "backup").contains(" ok ") && line(&out, "backup").contains("none recorded yet"),
        "{out}"
    );

    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "backup").contains("none recorded yet"), "{out}");
    let folder = dir.path().join("backups");
    let (code, _, err) = run_cli(&["backup", "--into", folder.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{err}");
    let copy = std::fs::read_dir(&folder).unwrap().next().unwrap().unwrap().path();
    let (code, out, _) = run_cli(&["check", "--strict"], &config);
    assert_eq!(code, 0, "{out}");
    let said = line(&out, "backup");
    assert!(
        said.contains(" ok ") && said.contains(copy.to_str().unwrap()) && said.contains("(0 hours ago)"),
        "{out}"
    );

    // The timer stopped: the last backup is 27 hours old, the line a warning (--strict: exit 1).
    let at = |hours: i64| (chrono::Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    conn.execute("UPDATE backups SET finished_at = ?1", [at(27)]).unwrap();
    let (code, out, _) = run_cli(&["check", "--strict"], &config);
    assert_eq!(code, 1, "{out}");
    let said = line(&out, "backup");
    assert!(
        said.contains(" warning ") && said.contains("(27 hours ago): over 26 hours; is the backup timer running?"),
        "{out}"
    );
    // 25 hours is a day's run late by its spread: not yet stale.
    conn.execute("UPDATE backups SET finished_at = ?1", [at(25)]).unwrap();
    let (code, out, _) = run_cli(&["check", "--strict"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "backup").contains("(25 hours ago)"), "{out}");
}

#[test]
fn a_port_in_use_is_a_warning_and_strict_fails_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("bind = \"127.0.0.1:0\"", &format!("bind = \"{address}\""));
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "listen").contains("warning") && line(&out, "listen").contains(&format!("{address} is in use now")),
        "{out}"
    );
    assert!(
        out.contains("serve would start on") && out.contains("with 1 warning"),
        "{out}"
    );
    assert_eq!(run_cli(&["check", "--strict"], &config).0, 1);
    // --bind (serve's) is checked instead of the config's.
    let (code, out, _) = run_cli(&["check", "--strict", "--bind", "127.0.0.1:0"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "listen").contains("127.0.0.1:0 is free"), "{out}");
}

#[test]
fn what_serve_would_refuse_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    // The bundled demo secret beyond loopback.
    let config = dir.path().join("demo.toml");
    let bundled = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    std::fs::write(&config, bundled).unwrap();
    let (code, out, _) = run_cli(&["check", "--bind", "0.0.0.0:0"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "listen").contains("FAILED") && line(&out, "listen").contains("demo placeholder"),
        "{out}"
    );
    assert!(
        line(&out, "partners").contains("warning") && line(&out, "partners").contains("demo secret"),
        "{out}"
    );

    // A key file that is not there.
    let config = write_config(dir.path());
    with_server(&config, "tls_cert_file = \"tls.pem\"\ntls_key_file = \"tls.key\"\n");
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "https").contains("FAILED") && line(&out, "https").contains("tls.pem"),
        "{out}"
    );

    // A config that does not load: said, and nothing more is read.
    std::fs::write(&config, "[server\n").unwrap();
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "config").contains("FAILED") && line(&out, "config").contains("invalid config file"),
        "{out}"
    );
    assert!(!out.contains("database"), "{out}");
}

#[test]
fn a_certificate_near_its_end_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    with_server(&config, "tls_cert_file = \"tls.pem\"\ntls_key_file = \"tls.key\"\n");
    let write = |days: i64| {
        let (_, cert, key, _) = crate::reload::certificate(days);
        std::fs::write(dir.path().join("tls.pem"), cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), key).unwrap();
    };
    write(90);
    let (code, out, _) = run_cli(&["check", "--strict"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "https").contains(" ok ") && line(&out, "https").contains("valid until"),
        "{out}"
    );
    write(5);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    let https = line(&out, "https");
    assert!(
        https.contains("warning") && https.contains("ends in") && https.contains("renew it"),
        "{out}"
    );
    assert_eq!(run_cli(&["check", "--strict"], &config).0, 1);
}

#[test]
fn a_postgres_database_is_read_without_being_migrated() {
    let Some(db) = PgDatabase::create() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), &format!("url = \"{}\"", db.url));
    let (code, out, err) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        line(&out, "database").contains("has no migration yet: serve (or migrate) brings it to V"),
        "{out}"
    );
    let tables = texts(
        &db.url,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    );
    assert_eq!(tables, ["0"], "check made tables");
    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 0, "{out}");
    assert!(line(&out, "database").contains("this build's schema"), "{out}");
    assert!(
        line(&out, "backup").contains("PostgreSQL: back it up with its own tools"),
        "{out}"
    );
    // Whether an answered batch survives a crash of the server's machine: its fsync said as it
    // is (the test clusters run without, for speed), and a database whose synchronous_commit is
    // off is said to be set on by the gateway's writes.
    let fsync = texts(&db.url, "SHOW fsync");
    assert_eq!(
        line(&out, "durable").contains("PostgreSQL's fsync is off"),
        fsync == ["off"],
        "{fsync:?}: {out}"
    );
    assert!(line(&out, "durable").contains("synchronous_commit is on"), "{out}");
    // Set through the server's own database before any session of the new one (a pooler keeps
    // sessions, each with the default it started with).
    let off = PgDatabase::create().unwrap();
    let alter = format!("ALTER DATABASE {} SET synchronous_commit = off", off.name);
    texts(&PgDatabase::server().unwrap(), &alter);
    let off_config = write_config_with(dir.path(), &format!("url = \"{}\"", off.url));
    let (_, out, _) = run_cli(&["check"], &off_config);
    assert!(
        line(&out, "durable")
            .contains("synchronous_commit is off for this database, and the gateway's writes set it on"),
        "{out}"
    );
    // The URL's user and password are not printed.
    assert!(!out.contains("postgres@"), "{out}");

    // A server that is not there: serve could not start.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = write_config_with(
        dir.path(),
        &format!("url = \"postgres://postgres@127.0.0.1:{closed}/gateway?connect_timeout=2\""),
    );
    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "database").contains("FAILED"), "{out}");
}

/// A database that cannot be reached is tried once and said once: the durability, backup and
/// credential reads that follow would each wait for it again (on a black-holed host, the whole
/// connect timeout each).
#[test]
fn an_unreachable_database_is_tried_once() {
    let dir = tempfile::tempdir().unwrap();
    // A "database server" that closes every connection it is offered, counting them.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let offered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&offered);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let config = write_config_with(
        dir.path(),
        &format!("url = \"postgres://gw@127.0.0.1:{port}/gw?sslmode=disable\""),
    );
    // A secret that ends, so that whether the partner still signs with it would be read too.
    let text = std::fs::read_to_string(&config).unwrap();
    let ending = text.replace(
        &format!("secret_env = \"{SECRET_ENV}\""),
        &format!("secrets = [ {{ secret_env = \"{SECRET_ENV}\", not_after = \"2999-12-31\" }} ]"),
    );
    assert_ne!(ending, text);
    std::fs::write(&config, ending).unwrap();

    let (code, out, _) = run_cli(&["check"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "database").contains("FAILED"), "{out}");
    assert!(!out.contains("durable"), "{out}");
    assert_eq!(offered.load(std::sync::atomic::Ordering::SeqCst), 1, "{out}");
}
