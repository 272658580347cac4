//! `warranty-gateway import`: CSV and JSON files through the same code path as a POST, with a
//! per-record report and exit codes 0 / 1 / 2, whether or not a server runs on the database.

use std::path::Path;
use std::process::{Command, Output};

use crate::binary::*;

fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn import(config: &Path, args: &[&str]) -> (i32, String, String) {
    let Output { status, stdout, stderr } = Command::new(BIN)
        .args(["import", "--company", "tirecompany", "--config"])
        .arg(config)
        .args(args)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    (
        status.code().unwrap(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn csv_and_json_files_are_imported_with_a_report_and_an_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());

    // Some rows rejected: exit 1, each named by its line, field and reason.
    let (code, out, _) = import(
        &config,
        &["--type", "registrations", &fixture("import/registrations.csv")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("line 4: CustomerID: CustomerID is required (required)"),
        "{out}"
    );
    assert!(
        out.contains("line 6: TiresCovered: TiresCovered must be a number, got \"four\" (invalid_number)"),
        "{out}"
    );
    assert!(
        out.contains("line 6: TireCost: TireCost must be exact to the cent"),
        "{out}"
    );
    assert!(out.contains("Registrations: 3 written, 2 rejected"), "{out}");

    // The same file as a spreadsheet on Windows saves it (a BOM, CRLF): the same lines named.
    let windows = dir.path().join("registrations-windows.csv");
    let text = std::fs::read_to_string(fixture("import/registrations.csv")).unwrap();
    std::fs::write(&windows, format!("\u{FEFF}{}", text.replace('\n', "\r\n"))).unwrap();
    let (code, same, _) = import(
        &config,
        &["--test", "--type", "registrations", windows.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{same}");
    let lines = |report: &str| {
        report
            .lines()
            .filter(|l| l.starts_with("line "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&same), lines(&out));

    // Claims against those registrations, the guide's typo in the header included: exit 0.
    let (code, out, _) = import(&config, &["--type", "claims", &fixture("import/claims.csv")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 written, 0 rejected"), "{out}");

    // A JSON batch into the test tenant.
    let (code, out, _) = import(&config, &["--test", &fixture("samples/nightly-clean.json")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("196 written, 0 rejected"), "{out}");

    // Nothing written: exit 2.
    let (code, out, _) = import(&config, &[&fixture("guide/claims.json")]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("Claims[0]: RepairShopID: RepairShopID is required"),
        "{out}"
    );
    // Without --type, a CSV file is read as the record type whose own date its header names.
    let (code, out, _) = import(&config, &[&fixture("import/claims.csv")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("read as Claims: its header names ClaimDate\n"), "{out}");

    // A header row and no records: a quiet file, as an empty POST is (exit 0), but said.
    let header_only = dir.path().join("header-only.csv");
    std::fs::write(&header_only, "ShopID,InvoiceNumber,ClaimDate\r\n").unwrap();
    let (code, out, _) = import(&config, &[header_only.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\nthe file holds no records: 0 written, 0 rejected (batch "),
        "{out}"
    );

    // Unusable files: exit 2 with the reason.
    let no_date = dir.path().join("no-date.csv");
    std::fs::write(&no_date, "ShopID,InvoiceNumber\n1,2\n").unwrap();
    for (args, reason) in [
        (vec!["/nonexistent/night.json"], "cannot open /nonexistent/night.json"),
        (vec![no_date.to_str().unwrap()], "--type"),
        (
            vec!["--type", "sales", &fixture("import/claims.csv")],
            "--type sales, but the header has no SaleDate and names ClaimDate: is the file claims?",
        ),
        (
            vec!["--type", "sales", &fixture("guide/sales.json")],
            "--type is for CSV files",
        ),
        (vec![&fixture("hostile/bodies/truncated-3.json")], "not usable JSON"),
    ] {
        let (code, out, err) = import(&config, &args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn an_import_works_beside_a_running_server_and_shows_in_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    let (code, out, _) = import(
        &config,
        &["--type", "registrations", &fixture("import/registrations.csv")],
    );
    assert_eq!(code, 1, "{out}");

    let res = server
        .get("/v2/partners/tirecompany?rec=registrations&ShopID=005308&InvoiceNumber=1044274")
        .await;
    assert_eq!(res.status(), 200);
    let got: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (&got["VehicleModel"], &got["CommercialVehicle"]),
        (&serde_json::json!("F150, SUPERCREW"), &serde_json::json!("true"))
    );
    let history: serde_json::Value = server
        .get("/v2/partners/tirecompany/batches")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["Batches"][0]["Status"], 206);
    assert_eq!(history["Batches"][0]["RejectedRecords"], serde_json::Value::Null);
}
