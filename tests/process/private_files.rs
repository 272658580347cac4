//! What the gateway writes holds every partner's customers and VINs: the database, its WAL and
//! shared-memory files, a backup and keygen's private key are their owner's alone, whatever the
//! umask the gateway was started with.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::binary::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The binary with `args`, started by a shell whose umask lets everyone read what it makes.
fn with_open_umask(args: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask 000; exec {BIN} {args}"))
        .env(SECRET_ENV, SECRET);
    cmd
}

#[tokio::test]
async fn the_database_its_wal_a_backup_and_a_private_key_are_the_owners_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(with_open_umask(&format!("serve --config {}", config.display())));
    assert_eq!(
        server
            .post(
                "tirecompany",
                &serde_json::json!({"Registrations": [registration("P1")]})
            )
            .await
            .status(),
        200
    );
    let db = db_path(dir.path());
    for file in [
        db.clone(),
        db.with_extension("sqlite3-wal"),
        db.with_extension("sqlite3-shm"),
        db.with_extension("sqlite3-lock"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(db.parent().unwrap()) & 0o007, 0, "the database's folder");

    let copy = dir.path().join("copy.sqlite3");
    let out = with_open_umask(&format!("backup --to {} --config {}", copy.display(), config.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&copy), 0o600);

    let keys = dir.path().join("keys");
    let out = with_open_umask(&format!("keygen --out {}", keys.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&keys.join("private.pem")), 0o600);
    drop(server);

    // A database an older build made readable by everyone loses the other users' bits when
    // served again (its group's are the operator's to give).
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut server = Server::start(with_open_umask(&format!("serve --config {}", config.display())));
    assert_eq!(mode(&db), 0o640);
    assert!(
        server
            .startup_log
            .iter()
            .any(|line| line.contains("readable by other users")),
        "{:#?}",
        server.startup_log
    );
    server.signal(Signal::TERM);
    server.wait_exit(std::time::Duration::from_secs(30));
}
