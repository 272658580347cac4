//! `warranty-gateway copy-data --to URL` (only when `WARRANTY_GATEWAY_TEST_POSTGRES` is set): an
//! SQLite database served, copied into an empty PostgreSQL database, and served from there gives
//! the same answers (records, statuses with their registration ids and dates, the batch history
//! with its ids); new rows get new ids; a target that is not empty is refused.

use serde_json::{Value, json};

use crate::binary::*;

/// Every answer a support person might compare, from one server.
async fn answers(server: &Server) -> Vec<(String, u16, Value)> {
    let mut out = Vec::new();
    for path in [
        "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=C1",
        "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=C2",
        "/v2/partners/tirecompany?rec=registrations&ShopID=S1&InvoiceNumber=C1",
        "/v2/partners/tirecompany?rec=claims&ShopID=S1&InvoiceNumber=C1",
        "/v2/partners/tirecompany?rec=cancellations&ShopID=S1&InvoiceNumber=C2",
        "/v2/partners/tirecompany?rec=sales&ShopID=S1&InvoiceNumber=SALE1",
        "/v2/partners/tirecompany_test?rec=registrations&ShopID=S1&InvoiceNumber=T1",
        "/v2/partners/tirecompany/batches",
        "/v2/partners/tirecompany/batches/3",
        "/v2/partners/tirecompany_test/batches",
    ] {
        let res = server.get(path).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        out.push((path.to_owned(), status, body));
    }
    out
}

#[tokio::test]
async fn an_sqlite_database_moves_to_postgres_whole() {
    let Some(target) = PgDatabase::create() else {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::serve(&config);
    let sale = json!({
        "ShopID": "S1", "InvoiceNumber": "SALE1", "SaleDate": "2024-02-01", "TireCount": 4,
        "TireBrand": "SUM", "TireModel": "M", "TireSize": "2356018", "TirePrice": 225.09, "TireCost": 195.09
    });
    let cancel = json!({
        "ShopID": "S1", "InvoiceNumber": "C2", "CancelShopID": "S1", "CancelInvoiceNumber": "X1",
        "TireCancelCount": 2, "CancelDate": "2024-03-02"
    });
    let batches = [
        json!({"Registrations": [registration("C1"), registration("C2")], "Sales": [sale]}),
        json!({"Claims": [claim("C1", "R1"), claim("C1", "R2"), claim("NOPE", "R3")]}),
        json!({"Cancellations": [cancel], "Claims": [claim("C2", "R4")]}),
    ];
    for body in &batches {
        let status = server.post("tirecompany", body).await.status().as_u16();
        assert!(status == 200 || status == 206, "{status}");
    }
    let test_batch = json!({"Registrations": [registration("T1")]});
    assert_eq!(server.post("tirecompany_test", &test_batch).await.status(), 200);
    let before = answers(&server).await;
    drop(server);

    let (code, out, err) = run_cli(&["copy-data", "--to", &target.url], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("registrations: 3 rows") && out.contains("batches: 4 rows"),
        "{out}"
    );

    let pg_dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config_with(pg_dir.path(), &format!("url = \"{}\"", target.url)));
    let after = answers(&server).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    // New rows continue after the copied ids.
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("C3")]}))
        .await;
    assert_eq!(res.status(), 200);
    let batch_id: i64 = res.headers()["x-batch-id"].to_str().unwrap().parse().unwrap();
    assert_eq!(batch_id, 5);
    let status: Value = server
        .get("/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=C3")
        .await
        .json()
        .await
        .unwrap();
    // Three copied (C1, C2 and the test tenant's T1): the next is 4.
    assert_eq!(status["RegistrationID"], 4, "{status}");
    drop(server);

    // Not again: the target holds records now.
    let (code, _, err) = run_cli(&["copy-data", "--to", &target.url], &config);
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");

    // Nor from a database a newer build migrated: this build would leave out what it added.
    migrated_by_a_newer_build(&db_path(dir.path()), 98, OlderBuilds::MayServe);
    let (code, _, err) = run_cli(&["copy-data", "--to", &target.url], &config);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was migrated by a newer warranty-gateway (V98; this build's schema is V"),
        "{err}"
    );
    assert!(err.contains("copy with that build"), "{err}");
    rusqlite::Connection::open(db_path(dir.path()))
        .unwrap()
        .execute("DELETE FROM refinery_schema_history WHERE version = 98", [])
        .unwrap();

    // Nor into an empty database a newer build migrated, even one this build may serve: its
    // tables may be more than this build fills.
    let newer = PgDatabase::create().unwrap();
    assert_eq!(
        run_cli(
            &["migrate"],
            &write_config_with(pg_dir.path(), &format!("url = \"{}\"", newer.url))
        )
        .0,
        0
    );
    newer.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (99, 'from_a_newer_build', '2030-01-01T00:00:00Z', '1')",
    );
    let (code, _, err) = run_cli(&["copy-data", "--to", &newer.url], &config);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the target database was migrated by a newer warranty-gateway (V99__from_a_newer_build): copy with that build"),
        "{err}"
    );
}
