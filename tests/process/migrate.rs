//! `warranty-gateway migrate`: the numbered migrations, each once; a database from a newer
//! build refused by `migrate` and by `serve` alike.

use std::process::Command;

use crate::binary::*;

fn run(args: &[&str], config: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_applies_each_migration_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, out, err) = run(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied V1__records"), "{out}");
    assert!(out.contains("applied V3__health_probe"), "{out}");
    assert!(db_path(dir.path()).exists());
    let (code, out, err) = run(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("applied"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn a_database_migrated_by_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    assert_eq!(run(&["migrate"], &config).0, 0);
    rusqlite::Connection::open(db_path(dir.path()))
        .unwrap()
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (4, 'from_a_newer_build', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
    let (code, _, err) = run(&["migrate"], &config);
    assert_eq!(code, 2);
    assert!(
        err.contains("newer warranty-gateway") && err.contains("V4__from_a_newer_build"),
        "{err}"
    );
    let (code, _, err) = run(&["serve"], &config);
    assert_ne!(code, 0);
    assert!(err.contains("newer warranty-gateway"), "{err}");
}
