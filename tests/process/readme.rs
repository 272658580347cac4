//! The walk-throughs of README.md and docs/v3-api.md, run as written (with curl, in a copy of
//! the repository's config.toml and fixtures) against the built binary, so that they cannot
//! drift from what the server does.

use std::path::Path;
use std::process::Command;

use crate::binary::{BIN, Server};
use crate::common_skip::skip;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const README_PORT: &str = "http://127.0.0.1:8080";

/// The text of each ```sh block of a page, in order.
fn shell_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line.trim_start());
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// The block of `page` that holds `marker`.
fn block_with(page: &str, marker: &str) -> String {
    let blocks: Vec<String> = shell_blocks(page).into_iter().filter(|b| b.contains(marker)).collect();
    assert_eq!(blocks.len(), 1, "one block with {marker:?}");
    blocks.into_iter().next().unwrap()
}

/// A copy of what the walk-throughs read: config.toml, with the server on a free port, and
/// the fixtures.
fn checkout_copy(dir: &Path) {
    let config = std::fs::read_to_string(format!("{ROOT}/config.toml")).unwrap();
    let bind = "bind = \"127.0.0.1:8080\"";
    assert!(
        config.contains(bind),
        "config.toml binds 127.0.0.1:8080, as the README says"
    );
    std::fs::write(dir.join("config.toml"), config.replace(bind, "bind = \"127.0.0.1:0\"")).unwrap();
    std::os::unix::fs::symlink(format!("{ROOT}/fixtures"), dir.join("fixtures")).unwrap();
}

/// Runs `script` with bash in `dir`, as a reader pasting it would, but with the built binary
/// for `cargo run` and the server's real address for the README's. Returns what it printed.
fn run(dir: &Path, server: &Server, script: &str) -> String {
    let script = script
        .replace("cargo run --release -q --", BIN)
        .replace("cargo run --release --", BIN)
        .replace(
            "\"$(pgrep -f 'target/release/warranty-gateway' | head -n 1)\"",
            &server.child.id().to_string(),
        )
        .replace(README_PORT, &format!("http://{}", server.address));
    assert!(!script.contains("cargo run"), "{script}");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the walk-through failed: {stderr}\n{stdout}");
    stdout
}

fn assert_says(output: &str, expected: &[&str]) {
    for text in expected {
        assert!(output.contains(text), "expected {text:?} in:\n{output}");
    }
}

#[test]
fn the_readme_and_v3_walk_throughs_do_what_they_say() {
    if Command::new("curl").arg("--version").output().is_err() {
        return skip("curl is not installed: the walk-throughs are curl commands (apt-get install curl)");
    }
    let dir = tempfile::tempdir().unwrap();
    checkout_copy(dir.path());
    // `cargo run --release` in the folder: the default config, ./config.toml.
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path());
    let server = Server::start(cmd);

    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let quick_start = run(dir.path(), &server, &block_with(&readme, "TOKEN=$("));
    assert_says(
        &quick_start,
        &[
            "HTTP/1.1 200 OK",
            "\"Status\":\"Successfully Posted\",\"Action\":\"inserted\"",
            "\"InvoiceNumber\":\"1044273\"",
            "\"WarrantyStatus\":4",
            "\"Message\":\"Registration is Expired\"",
            "HTTP/1.1 400 Bad Request",
            "\"Field\":\"RepairShopID\",\"Code\":\"required\"",
            "\n206\n",
            "\"Batches\":[",
            "{\"Status\":\"ok\"}",
        ],
    );

    // The v3 walk-through goes on in the same terminal, with the README's $TOKEN.
    let v3_page = std::fs::read_to_string(format!("{ROOT}/docs/v3-api.md")).unwrap();
    let token_line = block_with(&readme, "TOKEN=$(")
        .lines()
        .find(|line| line.starts_with("TOKEN="))
        .unwrap()
        .to_owned();
    let script = [
        token_line,
        block_with(&v3_page, "keygen --out"),
        block_with(&v3_page, "motor-club/registrations"),
    ]
    .join("\n");
    let v3 = run(dir.path(), &server, &script);
    assert_says(
        &v3,
        &[
            "HTTP/1.1 201 Created",
            "location: /api/v3/tire-protection/registrations/",
            "\"invoiceNumber\":\"001-20345\"",
            "\"availableTiresCount\":1",
            "\"Message\":\"Registration is Expired\"",
            "HTTP/1.1 204 No Content",
        ],
    );
    // Each of the v3 block's PATCHes and the motor club's two answered 204.
    assert_eq!(v3.matches("HTTP/1.1 204 No Content").count(), 3, "{v3}");
    assert!(v3.contains("/api/v3/tire-protection/registrations/"), "{v3}");
}

/// The toolchain the pages name is Cargo.toml's `rust-version`, the one cargo enforces (CI checks
/// that no locked dependency asks for a newer one): a reader on an older toolchain is told up
/// front, not by a failed build.
#[test]
fn the_pages_name_the_toolchain_cargo_toml_requires() {
    let required = format!("Rust toolchain, {} or newer", env!("CARGO_PKG_RUST_VERSION"));
    for page in ["README.md", "docs/deploying.md"] {
        let text = std::fs::read_to_string(format!("{ROOT}/{page}")).unwrap();
        assert!(
            text.contains(&required),
            "{page} must say {required:?}, as Cargo.toml requires"
        );
    }
}
