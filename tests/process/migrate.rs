//! `warranty-gateway migrate`: the numbered migrations, each once; a database from a newer
//! build refused by `migrate` and by `serve` alike.

use std::process::Command;

use crate::binary::*;

#[test]
fn migrate_applies_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, out, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied V1__records"), "{out}");
    let latest = warranty_gateway::store::latest_migration();
    assert!(
        out.contains(&format!("applied V{}__{}", latest.version, latest.name)),
        "{out}"
    );
    assert!(db_path(dir.path()).exists());
    let (code, out, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("applied"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
    let needs = warranty_gateway::store::needs_migration().unwrap();
    assert!(
        out.contains(&format!("; builds that know V{needs} or later may serve it")),
        "{out}"
    );
}

#[test]
fn a_database_a_newer_build_migrated_is_served_when_its_schema_allows_and_refused_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    // In a rolling upgrade, an instance not upgraded yet: nothing to apply, and it serves.
    migrated_by_a_newer_build(&db_path(dir.path()), 98, OlderBuilds::MayServe);
    let (code, out, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    let latest = warranty_gateway::store::latest_migration();
    assert!(
        out.contains(&format!(
            "is at V98__from_a_newer_build, a newer build's schema, which this build (V{}__{}) may serve: nothing to do",
            latest.version, latest.name
        )),
        "{out}"
    );
    let server = Server::serve(&config);
    assert!(
        server
            .startup_log
            .iter()
            .any(|l| l.contains("migrated by a newer build")
                && l.contains("V98__from_a_newer_build")
                && l.contains("upgrade this instance")),
        "{:?}",
        server.startup_log
    );
    drop(server);

    // One it may not serve on.
    migrated_by_a_newer_build(&db_path(dir.path()), 99, OlderBuilds::MayNotServe);
    let (code, _, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 2);
    assert!(
        err.contains("newer warranty-gateway") && err.contains("V99__from_a_newer_build"),
        "{err}"
    );
    let (code, _, err) = run_cli(&["serve"], &config);
    assert_ne!(code, 0);
    assert!(err.contains("newer warranty-gateway"), "{err}");
}

#[test]
fn migrate_prepares_a_postgres_database() {
    // A database of its own (its URL keeps the server's parameters: TLS, say).
    let Some(db) = PgDatabase::create() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let (url, name) = (db.url.clone(), db.name.clone());

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pg.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl_env = \"WG_TEST_DATABASE_URL\"\n\n[[partners]]\ncompany = \"tirecompany\"\n\
             partner_id = 1001\nsecret = \"{SECRET}\"\nplan_term_months = 36\n"
        ),
    )
    .unwrap();
    let migrate = || {
        let out = Command::new(BIN)
            .args(["migrate", "--config"])
            .arg(&config)
            .env("WG_TEST_DATABASE_URL", &url)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let first = migrate();
    assert!(
        first.contains("applied V1__records") && first.contains("applied V10__trail_and_refusals"),
        "{first}"
    );
    // The URL's user and password (and parameters) are not printed.
    let latest = warranty_gateway::store::latest_migration().version;
    assert!(first.contains(&format!("/{name} is at V{latest}")), "{first}");
    assert!(!first.contains("postgres@") && !first.contains('?'), "{first}");
    assert!(migrate().contains("nothing to do"));
    let tables: i64 = with_client(&url, |c| {
        c.query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0)
    });
    // Ours (the same tables as SQLite's, schema.sql says) and refinery's history.
    let ours = warranty_gateway::store::SCHEMA.matches("CREATE TABLE").count() as i64;
    assert_eq!(tables, ours + 1);
}

/// `serve` on a fresh database says what it applied in one readable line, not the migration
/// tool's own list (a migration a line); on the next start, nothing.
#[test]
fn serve_says_what_it_migrated_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    let log = server.startup_log.join("\n");
    drop(server);
    let said: Vec<&str> = log.lines().filter(|l| l.contains("database migrated")).collect();
    assert_eq!(said.len(), 1, "{log}");
    let latest = warranty_gateway::store::latest_migration().version;
    assert!(
        said[0].contains(&format!("database migrated to V{latest} ({latest} applied)"))
            && said[0].contains("V1__records, V2__batch_history")
            && said[0].contains("V10__trail_and_refusals"),
        "{log}"
    );
    assert!(
        !log.contains("refinery_core") && !log.lines().any(|l| l == "V1__records"),
        "{log}"
    );
    let server = Server::serve(&config);
    let log = server.startup_log.join("\n");
    assert!(!log.contains("database migrated"), "{log}");
}
