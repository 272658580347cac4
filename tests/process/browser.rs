//! The console page in a real browser: Debian's headless Chromium, driven by
//! tests/browser/console.mjs (playwright-core). Needs node, chromium and `npm ci` in
//! tests/browser, which .ci/run installs; run it with `cargo test --test process -- --ignored`.

use std::process::Command;

use chrono::Datelike;
use serde_json::json;

use crate::binary::*;

/// A test batch with one registration written (S1/I1) and one rejected (S1/I2: TiresCovered
/// missing): a 206.
async fn post_a_partial_test_batch(server: &Server) {
    // TiresCovered misspelt: refused for the field's absence, with a warning naming the misspelling.
    let mut missing = registration("I2");
    let fields = missing.as_object_mut().unwrap();
    let count = fields.remove("TiresCovered").unwrap();
    fields.insert("TiresCoverd".into(), count);
    let res = server
        .post(
            "tirecompany_test",
            &json!({"Registrations": [registration("I1"), missing]}),
        )
        .await;
    assert_eq!(res.status(), 206);
}

/// Runs tests/browser/`script` with node and `env`; asserts it succeeded and said `done`.
fn drive(script: &str, env: &[(&str, &str)], done: &str) {
    let out = Command::new("node")
        .arg(format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR")))
        .envs(env.iter().copied())
        .output()
        .expect("node runs (install it, or run .ci/run)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains(done), "{said}");
}

#[tokio::test]
#[ignore = "needs Chromium and node (installed by .ci/run)"]
async fn the_console_lists_batches_shows_rejected_records_and_looks_up_status_through_v2_and_v3() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let key = enable_v3(dir.path(), &config);
    let server = Server::serve(&config);
    post_a_partial_test_batch(&server).await;
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("L1")]}))
        .await;
    assert_eq!(res.status(), 200);

    let base_url = format!("http://{}", server.address);
    // The sandbox: the test tenant, where the lookup finds S1/I1.
    let v3_token = v3_token_cli(&config, &key, &["--sandbox"]);
    drive(
        "console.mjs",
        &[
            ("BASE_URL", &base_url),
            ("COMPANY", "tirecompany"),
            ("TOKEN", &token()),
            ("V3_TOKEN", &v3_token),
        ],
        "the test tenant emptied",
    );
}

#[tokio::test]
#[ignore = "needs Chromium and node (installed by .ci/run)"]
async fn the_operators_page_shows_late_partners_a_chart_an_invoices_trail_and_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // tirecompany is due at midnight UTC: with no live batch today, it is late. It is due on
    // six days a week, today and tomorrow among them, whichever day the test runs.
    let today = chrono::Utc::now().date_naive().weekday();
    let days: Vec<String> = (chrono::WeekdaySet::ALL.iter(chrono::Weekday::Mon))
        .filter(|&d| d != today.succ().succ())
        .map(|d| format!("\"{d}\""))
        .collect();
    // Its one secret ends the day after tomorrow, and the posts below use it: the page flags
    // it, as the alert WarrantyGatewayEndingCredentialInUse would.
    let ends = chrono::Utc::now().date_naive() + chrono::TimeDelta::days(2);
    let mut text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("secret_env = \"{SECRET_ENV}\""),
        &format!("secrets = [ {{ secret_env = \"{SECRET_ENV}\", not_after = \"{ends}\" }} ]"),
    );
    text.push_str(&format!(
        "expected_upload_by = \"00:00\"\nupload_days = [{}]\n\n[[operators]]\nname = \"olaf\"\nrole = \"admin\"\n\
         secret = \"browser-test-operator-secret-0123456789abcdef\"\n",
        days.join(", ")
    ));
    std::fs::write(&config, text).unwrap();
    let server = Server::serve(&config);
    post_a_partial_test_batch(&server).await;
    // Two claims on S1/I1: one written, one rejected for a field outside its key (its key has
    // no OrgID).
    let mut no_brand = claim("I1", "R2");
    no_brand.as_object_mut().unwrap().remove("TireBrand");
    let res = server
        .post("tirecompany_test", &json!({"Claims": [claim("I1", "R1"), no_brand]}))
        .await;
    assert_eq!(res.status(), 206);
    let res = reqwest::Client::new()
        .get(server.url("/v2/partners/tirecompany"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (code, admin, err) = run_cli(&["token", "--operator", "olaf"], &config);
    assert_eq!(code, 0, "{err}");
    // A backup made 30 hours ago and none since: the page flags it, as the alert would.
    let (code, _, err) = run_cli(
        &["backup", "--to", dir.path().join("b.sqlite3").to_str().unwrap()],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    let stale = (chrono::Utc::now() - chrono::TimeDelta::hours(30)).to_rfc3339();
    rusqlite::Connection::open(db_path(dir.path()))
        .unwrap()
        .execute("UPDATE backups SET finished_at = ?1", [stale])
        .unwrap();
    // A newer build migrated the database since this one started (a rolling upgrade).
    migrated_by_a_newer_build(&db_path(dir.path()), 98, OlderBuilds::MayServe);

    let screenshot = dir.path().join("ops.png");
    drive(
        "ops.mjs",
        &[
            ("BASE_URL", &format!("http://{}", server.address)),
            ("TOKEN", admin.trim()),
            ("SCREENSHOT", screenshot.to_str().unwrap()),
        ],
        "chart drawn",
    );
    let png = std::fs::read(&screenshot).expect("the page's screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}
