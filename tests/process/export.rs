//! `warranty-gateway export`: a partner's records of one type as CSV that `import` reads back
//! as the same records, by the partner's calendar days, in one snapshot, on both engines.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::binary::*;

const KINDS: [&str; 4] = ["registrations", "sales", "claims", "cancellations"];

fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Exports `kind` of tirecompany's live tenant to a file in `dir`: the file's text and what
/// the command said.
fn export_file(config: &Path, dir: &Path, kind: &str) -> (String, String) {
    let out = dir.join(format!("{kind}.csv"));
    let (code, stdout, err) = run_cli(
        &[
            "export",
            "--company",
            "tirecompany",
            "--type",
            kind,
            "--out",
            out.to_str().unwrap(),
        ],
        config,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, "", "the records went to the file");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the export is private");
    assert!(!dir.join(format!("{kind}.csv.partial")).exists());
    (std::fs::read_to_string(&out).unwrap(), err)
}

#[test]
fn an_export_imports_back_as_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, out, _) = run_cli(
        &[
            "import",
            "--company",
            "tirecompany",
            &fixture("samples/nightly-mixed.json"),
        ],
        &config,
    );
    assert_eq!(code, 1, "the sample night has rejected records: {out}");

    let copy = tempfile::tempdir().unwrap();
    let copy_config = write_config(copy.path());
    for kind in KINDS {
        let (exported, said) = export_file(&config, dir.path(), kind);
        // One line a record, after the header; as many as the database holds.
        let stored = rusqlite::Connection::open(db_path(dir.path()))
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {kind}"), [], |r| r.get::<_, i64>(0))
            .unwrap();
        assert!(stored > 0, "{kind}");
        assert_eq!(exported.lines().count() as i64, stored + 1, "{kind}: {exported}");
        assert!(
            said.starts_with(&format!("exported {stored} {kind} of tirecompany (live) to ")),
            "{said}"
        );
        // Imported into another gateway, the records export as the same file, byte for byte.
        let path = dir.path().join(format!("{kind}.csv"));
        let (code, out, err) = run_cli(
            &[
                "import",
                "--company",
                "tirecompany",
                "--type",
                kind,
                path.to_str().unwrap(),
            ],
            &copy_config,
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("{stored} written, 0 rejected")), "{out}");
        assert_eq!(export_file(&copy_config, copy.path(), kind).0, exported, "{kind}");
    }
    // The header names the guide's fields, in the guide's order; money is to the cent, and a
    // number the POS did not send is an empty cell (not the 0 a GET shows).
    let claims = std::fs::read_to_string(dir.path().join("claims.csv")).unwrap();
    assert!(
        claims.starts_with("OrgID,ShopID,InvoiceNumber,ClaimDate,RepairShopID,RepairInvoiceNumber,VIN,VehicleMileage,TireClaimCount,CreditAmount,CostPerUnit,"),
        "{claims}"
    );
    assert!(claims.contains(",60.00,") && claims.contains(",,58.00\n"), "{claims}");

    // The test tenant holds none of it.
    let (code, out, err) = run_cli(
        &["export", "--company", "tirecompany", "--test", "--type", "claims"],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    assert!(
        err.contains("exported 0 claims of tirecompany (test) to standard output"),
        "{err}"
    );
}

#[test]
fn days_are_the_partners_calendar_days() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "plan_term_months = 36",
        "plan_term_months = 36\ntimezone = \"America/Chicago\"",
    );
    std::fs::write(&config, text).unwrap();
    // Chicago's October 31 ends at 05:00 UTC on November 1; its November 30 at 06:00 UTC on
    // December 1. A date without a zone is the partner's.
    let csv = "ShopID,InvoiceNumber,PlanEnrollDate,EmployeeID,CustomerID,TiresCovered,TPPPrice,TireBrand,TireSize,TirePrice,TireCost\n\
        1,oct31-late,2026-11-01T04:59:59Z,E,C,4,10,B,S,1,1\n\
        1,nov01,2026-11-01,E,C,4,10,B,S,1,1\n\
        1,nov30-late,2026-11-30T23:30:00-06:00,E,C,4,10,B,S,1,1\n\
        1,dec01,2026-12-01,E,C,4,10,B,S,1,1\n";
    let file = dir.path().join("registrations.csv");
    std::fs::write(&file, csv).unwrap();
    let (code, out, err) = run_cli(&["import", "--company", "tirecompany", file.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{out}{err}");

    let invoices = |args: &[&str]| {
        let mut all = vec!["export", "--company", "tirecompany", "--type", "registrations"];
        all.extend(args);
        let (code, out, err) = run_cli(&all, &config);
        assert_eq!(code, 0, "{err}");
        let rows: Vec<(String, String)> = out
            .lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                (cells[2].to_owned(), cells[3].to_owned())
            })
            .collect();
        (rows, err)
    };
    let (november, said) = invoices(&["--from", "2026-11-01", "--to", "2026-11-30"]);
    assert_eq!(
        november,
        [
            ("nov01".to_owned(), "2026-11-01T00:00:00-05:00".to_owned()),
            ("nov30-late".to_owned(), "2026-11-30T23:30:00-06:00".to_owned()),
        ],
        "dates in the partner's offset, first stored first"
    );
    assert!(
        said.contains("exported 2 registrations of tirecompany (live) with PlanEnrollDate from 2026-11-01 to 2026-11-30 (America/Chicago)"),
        "{said}"
    );
    let names = |rows: Vec<(String, String)>| rows.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    assert_eq!(names(invoices(&["--to", "2026-10-31"]).0), ["oct31-late"]);
    assert_eq!(names(invoices(&["--from", "2026-12-01"]).0), ["dec01"]);
    assert_eq!(
        names(invoices(&["--from", "2026-11-30", "--to", "2026-11-30"]).0),
        ["nov30-late"]
    );
    assert_eq!(invoices(&[]).0.len(), 4);
}

#[test]
fn what_export_refuses_is_said_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = dir.path().join("out.csv");
    let export = |args: &[&str]| {
        let mut all = vec!["export", "--company", "tirecompany", "--out", out.to_str().unwrap()];
        all.extend(args);
        run_cli(&all, &config)
    };
    // No database yet: none is made to export nothing from.
    let (code, _, err) = export(&["--type", "claims"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("there is no database at") && err.contains("nothing to export"),
        "{err}"
    );
    assert!(!db_path(dir.path()).exists());

    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    let (code, _, err) = export(&["--type", "claims", "--from", "2026-12-05", "--to", "2026-12-01"]);
    assert_eq!(code, 2);
    assert!(err.contains("--from 2026-12-05 is after --to 2026-12-01"), "{err}");
    let (code, _, err) = export(&["--type", "claims", "--from", "2026-02-30"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"2026-02-30\" is not a day as YYYY-MM-DD"), "{err}");
    let (code, _, err) = export(&["--type", "claims", "--to", "3000-01-01"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("outside the years a record's date may have (1900 to 2999)"),
        "{err}"
    );
    let (code, _, err) = run_cli(&["export", "--company", "tyrecompany", "--type", "claims"], &config);
    assert_eq!(code, 2);
    assert!(err.contains("no partner \"tyrecompany\""), "{err}");

    // A database of an older build's schema is said, not migrated by a read.
    let latest = warranty_gateway::store::latest_migration();
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    conn.execute(
        "DELETE FROM refinery_schema_history WHERE version = ?1",
        [latest.version],
    )
    .unwrap();
    let (code, _, err) = export(&["--type", "claims"]);
    assert_eq!(code, 2);
    let pending = format!("V{}__{} is still to be applied", latest.version, latest.name);
    assert!(err.contains(&pending) && err.contains("migrate it first"), "{err}");
    let applied: i64 = conn
        .query_row(
            "SELECT count(*) FROM refinery_schema_history WHERE version = ?1",
            [latest.version],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(applied, 0, "export migrated the database");
    drop(conn);

    // A database a newer build migrated is read by that build, not guessed at.
    migrated_by_a_newer_build(
        &db_path(dir.path()),
        latest.version as i32 + 1,
        OlderBuilds::MayNotServe,
    );
    let (code, _, err) = export(&["--type", "claims"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the database"), "{err}");
    assert!(!out.exists() && !dir.path().join("out.csv.partial").exists());

    // Nor one whose newer build's schema this build may serve: that schema may keep more.
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    conn.execute(
        "DELETE FROM refinery_schema_history WHERE version = ?1",
        [latest.version + 1],
    )
    .unwrap();
    assert_eq!(run_cli(&["migrate"], &config).0, 0);
    conn.execute("UPDATE schema_compatibility SET needs_migration = ?1", [latest.version])
        .unwrap();
    migrated_by_a_newer_build(&db_path(dir.path()), latest.version as i32 + 1, OlderBuilds::MayServe);
    let (code, _, err) = export(&["--type", "claims"]);
    assert_eq!(code, 2);
    let newer = format!(
        "was migrated by a newer warranty-gateway (V{}__from_a_newer_build): export with that build",
        latest.version + 1
    );
    assert!(err.contains(&newer), "{err}");
    assert!(!out.exists() && !dir.path().join("out.csv.partial").exists());
}

#[test]
fn both_engines_export_the_same_file() {
    let Some(db) = PgDatabase::create() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let sqlite = tempfile::tempdir().unwrap();
    let sqlite_config = write_config(sqlite.path());
    let postgres = tempfile::tempdir().unwrap();
    let postgres_config = write_config_with(postgres.path(), &format!("url = \"{}\"", db.url));
    for config in [&sqlite_config, &postgres_config] {
        let (code, out, _) = run_cli(
            &[
                "import",
                "--company",
                "tirecompany",
                &fixture("samples/nightly-mixed.json"),
            ],
            config,
        );
        assert_eq!(code, 1, "{out}");
    }
    for kind in KINDS {
        let (from_sqlite, _) = export_file(&sqlite_config, sqlite.path(), kind);
        let (from_postgres, said) = export_file(&postgres_config, postgres.path(), kind);
        assert!(from_sqlite.lines().count() > 1, "{kind}");
        assert_eq!(from_postgres, from_sqlite, "{kind}: {said}");
    }
    // The statuses too, but for when each database stored the registrations (CreatedDate).
    let created = |csv: String| -> Vec<String> {
        let rows = csv.lines().map(|line| {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells.remove(6);
            cells.join(",")
        });
        rows.collect()
    };
    let (from_sqlite, _) = export_file(&sqlite_config, sqlite.path(), "registrationstatus");
    let (from_postgres, _) = export_file(&postgres_config, postgres.path(), "registrationstatus");
    assert!(from_sqlite.starts_with("RegistrationID,PartnerID,OrgID,ShopID,InvoiceNumber,PlanEnrollDate,CreatedDate,"));
    assert!(from_sqlite.lines().count() > 1);
    assert_eq!(created(from_postgres), created(from_sqlite));
}

/// Registrations posted together: an export holds all of a batch or none of it.
const PER_BATCH: usize = 250;

fn batch(n: usize) -> serde_json::Value {
    let registrations: Vec<_> = (0..PER_BATCH).map(|i| registration(&format!("E{n}-{i}"))).collect();
    serde_json::json!({ "Registrations": registrations })
}

#[tokio::test]
async fn an_export_while_batches_arrive_holds_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    // More than one page of the export's reads (5,000).
    for n in 0..24 {
        assert_eq!(server.post("tirecompany", &batch(n)).await.status(), 200);
    }
    let writer = Posting::start(&server, 24, batch);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run_cli(
            &["export", "--company", "tirecompany", "--type", "registrations"],
            &config,
        )
    })
    .await
    .unwrap();
    let posted = writer.stop().await;
    assert_eq!(code, 0, "{err}");
    assert!(posted > 24);
    let invoices: Vec<&str> = out.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    let count = invoices.len();
    assert!(
        count >= 24 * PER_BATCH && count.is_multiple_of(PER_BATCH),
        "{count} registrations"
    );
    // First stored first, each once.
    let mut seen = std::collections::HashSet::new();
    assert!(invoices.iter().all(|i| seen.insert(*i)), "a registration twice");
    assert_eq!(invoices[0], "E0-0");
    assert_eq!(invoices[PER_BATCH], "E1-0");
    assert!(err.contains(&format!("exported {count} registrations")), "{err}");
}

/// A registration of ShopID S1, this invoice, enrolled on `enrolled`.
fn enrolled(invoice: &str, enrolled: &str) -> serde_json::Value {
    let mut registration = registration(invoice);
    registration["PlanEnrollDate"] = enrolled.into();
    registration
}

#[tokio::test]
async fn registration_statuses_are_what_a_get_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // One registration of each status: active, expired, no tires left, cancelled.
    let today = chrono::Utc::now().date_naive();
    let recent = (today - chrono::Days::new(30)).to_string();
    let claimed = serde_json::json!({
        "ShopID": "S1", "InvoiceNumber": "claimed", "ClaimDate": today.to_string(), "RepairShopID": "S1",
        "RepairInvoiceNumber": "R1", "TireClaimCount": 4, "CreditAmount": 64.04, "CostPerUnit": 60.00,
        "TireBrand": "SUM", "TireSize": "2356018", "TireCost": 58.00
    });
    let cancelled = serde_json::json!({
        "ShopID": "S1", "InvoiceNumber": "cancelled", "CancelShopID": "S1", "CancelInvoiceNumber": "X1",
        "TireCancelCount": 4, "CancelDate": today.to_string()
    });
    let body = serde_json::json!({
        "Registrations": [
            enrolled("active", &recent), enrolled("expired", "2018-12-04"),
            enrolled("claimed", &recent), enrolled("cancelled", &recent)
        ],
        "Claims": [claimed],
        "Cancellations": [cancelled]
    });
    let file = dir.path().join("night.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let (code, out, err) = run_cli(&["import", "--company", "tirecompany", file.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{out}{err}");

    let (code, csv, err) = run_cli(
        &["export", "--company", "tirecompany", "--type", "registrationstatus"],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("exported 4 registration statuses of tirecompany (live)"),
        "{err}"
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let statuses: Vec<(&str, &str)> = rows.iter().map(|r| (&r[4], &r[11])).collect();
    assert_eq!(
        statuses,
        [("active", "1"), ("expired", "4"), ("claimed", "3"), ("cancelled", "2")]
    );

    // Each row says what `rec=registrationstatus` answers for that invoice, field by field.
    let server = Server::serve(&config);
    for row in &rows {
        let path = format!(
            "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber={}",
            &row[4]
        );
        let res = server.get(&path).await;
        assert_eq!(res.status(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        let answer = answer.as_array().map_or(&answer, |a| &a[0]);
        for (field, cell) in header.iter().zip(row.iter()) {
            let said = match &answer[field] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, said, "{field} of {}", &row[4]);
        }
    }
}
