//! The console page in a real browser: Debian's headless Chromium, driven by
//! tests/browser/console.mjs (playwright-core). Needs node, chromium and `npm ci` in
//! tests/browser, which .ci/run installs; run it with `cargo test --test process -- --ignored`.

use std::process::Command;

use serde_json::json;

use crate::binary::*;

#[tokio::test]
#[ignore = "needs Chromium and node (installed by .ci/run)"]
async fn the_console_lists_batches_shows_rejected_records_and_looks_up_status_through_v2_and_v3() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let key = enable_v3(dir.path(), &config);
    let server = Server::serve(&config);
    let mut missing = registration("I2");
    missing.as_object_mut().unwrap().remove("TiresCovered");
    let res = server
        .post(
            "tirecompany_test",
            &json!({"Registrations": [registration("I1"), missing]}),
        )
        .await;
    assert_eq!(res.status(), 206);
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("L1")]}))
        .await;
    assert_eq!(res.status(), 200);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.mjs");
    let out = Command::new("node")
        .arg(script)
        .env("BASE_URL", format!("http://{}", server.address))
        .env("COMPANY", "tirecompany")
        .env("TOKEN", token())
        // The sandbox: the test tenant, where the lookup finds S1/I1.
        .env("V3_TOKEN", v3_token_cli(&config, &key, &["--sandbox"]))
        .output()
        .expect("node runs (install it, or run .ci/run)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("rejected record shown"), "{said}");
}
