//! What the gateway writes holds every partner's customers and VINs: the database, its WAL and
//! shared-memory files, a backup and keygen's private key are their owner's alone, whatever the
//! umask the gateway was started with. And a file a command names (a backup, a restored
//! database, an export) keeps its name through a power cut: its folder is synced after the
//! rename, as the command's own system calls show.

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

/// The system calls `strace` saw `args` (with `--config config`) make that name and sync files,
/// run in `dir`; `None` where strace is not installed.
fn traced(dir: &Path, config: &Path, args: &[&str]) -> Option<String> {
    let log = dir.join("strace.log");
    let out = Command::new("strace")
        .args([
            "-s",
            "4096",
            "-e",
            "trace=openat,rename,renameat,renameat2,fsync,fdatasync",
            "-o",
        ])
        .arg(&log)
        .arg(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env(SECRET_ENV, SECRET)
        .current_dir(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read_to_string(&log).unwrap())
}

/// Whether, in `trace`, the last rename to `file` is followed by a sync of the folder it is
/// in: only then does its name outlive a power cut.
fn named_durably(trace: &str, dir: &Path, file: &Path) -> bool {
    let real = |quoted: &str| dir.join(quoted).canonicalize().ok();
    let quoted = |line: &str| -> Vec<String> { line.split('"').skip(1).step_by(2).map(str::to_owned).collect() };
    let folder = file.canonicalize().unwrap().parent().unwrap().to_owned();
    let mut open: std::collections::HashMap<String, Option<std::path::PathBuf>> = Default::default();
    let mut renamed = false;
    for line in trace.lines() {
        let Some((call, result)) = line.rsplit_once(" = ") else {
            continue;
        };
        let (call, result) = (call.trim_end(), result.split_whitespace().next().unwrap_or_default());
        if call.starts_with("openat(") && !result.starts_with('-') {
            open.insert(result.to_owned(), quoted(call).first().and_then(|p| real(p)));
        } else if call.starts_with("rename") && result == "0" {
            renamed |= quoted(call).last().and_then(|p| real(p)).as_deref() == file.canonicalize().ok().as_deref();
        } else if let Some(fd) = call.strip_prefix("fsync(").and_then(|c| c.strip_suffix(')'))
            && renamed
            && result == "0"
            && open.get(fd).cloned().flatten().as_deref() == Some(folder.as_path())
        {
            return true;
        }
    }
    false
}

#[test]
fn a_backup_a_restore_and_an_export_are_named_durably() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = write_config(dir);
    let night = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/guide/registrations.json");
    let (code, _, err) = run_cli(&["import", "--company", "tirecompany", night], &config);
    assert_eq!(code, 0, "{err}");
    let backups = dir.join("backups");
    let Some(trace) = traced(dir, &config, &["backup", "--into", backups.to_str().unwrap()]) else {
        return crate::common_skip::skip("strace is not installed (apt-get install strace)");
    };
    let backup = std::fs::read_dir(&backups).unwrap().next().unwrap().unwrap().path();
    assert!(
        named_durably(&trace, dir, &backup),
        "the backup's folder is not synced after its rename:\n{trace}"
    );

    let trace = traced(dir, &config, &["restore", "--from", backup.to_str().unwrap()]).unwrap();
    assert!(
        named_durably(&trace, dir, &db_path(dir)),
        "the database's folder is not synced after the restore's rename:\n{trace}"
    );

    let out = dir.join("registrations.csv");
    let args = [
        "export",
        "--company",
        "tirecompany",
        "--type",
        "registrations",
        "--out",
        out.to_str().unwrap(),
    ];
    let trace = traced(dir, &config, &args).unwrap();
    assert!(
        named_durably(&trace, dir, &out),
        "the export's folder is not synced after its rename:\n{trace}"
    );
}
