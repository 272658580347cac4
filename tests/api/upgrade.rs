//! A database made by an earlier build (before migrations: fixtures/databases/, made by
//! make_fixture.py with the build of commit 9a014b2) is upgraded in place: every record, status
//! and history entry answers as that build answered, and it takes new batches.

use serde_json::json;

use crate::answers;
use crate::helpers::*;

#[tokio::test]
async fn a_database_made_by_the_build_before_migrations_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/databases/v2-build.sqlite3"),
        dir.path().join("gateway.sqlite3"),
    )
    .unwrap();
    let app = spawn_app_in(dir).await;
    for answer in answers::recorded() {
        let token = if answer.company.starts_with(OTHER) {
            other_token()
        } else {
            token()
        };
        let res = app
            .client
            .get(format!("{}{}", app.url(&answer.company), answer.path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(res).await;
        answer.assert_same(status.as_u16(), body);
    }
    // It takes new batches, next to the old ones.
    let (status, body) = app
        .post(COMPANY, &json!({"Claims": [claim("S1", "I3", "R9", 1, "2020-01-01")]}))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let s = app.status_of(COMPANY, "S1", "I3").await;
    assert_eq!(s["TireClaimCount"], 2);
    // And it is migrated: this build's migrations are recorded.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM refinery_schema_history ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let latest = i64::from(warranty_gateway::store::latest_migration().version);
    assert_eq!(versions, (1..=latest).collect::<Vec<_>>());
    assert!(latest >= 10);
    // V8 rebuilt the history with ids that are never given twice, its batches and entries kept
    // (the answers above read them), the new batch numbered after them all.
    let (batches, entries, last): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM batches), (SELECT count(*) FROM batch_rejections), \
             (SELECT seq FROM sqlite_sequence WHERE name = 'batches')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(batches > 1 && entries > 0, "{batches} batches, {entries} entries");
    let newest: i64 = conn.query_row("SELECT max(id) FROM batches", [], |r| r.get(0)).unwrap();
    assert_eq!(last, newest);
    // V7 rebuilt the registrations' key, led by the invoice number, over the rows already there.
    let key: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'registrations_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(key.ends_with("(invoice_number, shop_id, partner_id, tenant)"), "{key}");
    // Its registrations got their v3 ids in the migration, each its own, and read through v3.
    let (stored, ids, without): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT v3_id), count(*) - count(v3_id) FROM registrations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(stored > 0);
    assert_eq!((ids, without), (stored, 0));
    let id: String = conn
        .query_row(
            "SELECT v3_id FROM registrations WHERE partner_id = ?1 AND tenant = 'live' AND shop_id = 'S1' \
             AND invoice_number = 'I3'",
            [PARTNER_ID],
            |r| r.get(0),
        )
        .unwrap();
    let (status, got) = app
        .v3_get(&format!("/tire-protection/registrations/{id}/metadata"), &v3_token())
        .await;
    assert_eq!(status.as_u16(), 200, "{got}");
    assert_eq!(got["claimedTiresCount"], 2);
}

/// A rolling upgrade: a newer build migrated the database while this build's instances serve.
/// One restarted (a crash, a reboot) before it is upgraded serves again when the newer build's
/// migrations leave older builds able to; it is refused, naming why, when one says they cannot.
#[tokio::test]
async fn an_instance_not_upgraded_yet_serves_a_newer_builds_schema_when_it_allows() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    // What a newer build's additive migration does: a table, and its history row.
    app.execute_sql(
        "CREATE TABLE from_a_newer_build (id BIGINT PRIMARY KEY);
         INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES (901, 'from_a_newer_build', '2030-01-01T00:00:00Z', '1');",
    );
    let app = app.restart().await;
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await["TiresLeft"], 4);
    let healthz = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    // /ops/server and the metrics say this instance is behind its database.
    let latest = warranty_gateway::store::latest_migration();
    let (status, server) = app.ops_get("/server", &support()).await;
    assert_eq!(status.as_u16(), 200, "{server}");
    assert_eq!(server["schema"], latest.to_string(), "{server}");
    assert_eq!(server["database"]["schema"], "V901__from_a_newer_build", "{server}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("\nwarranty_gateway_database_migration 901\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("\nwarranty_gateway_build_migration {}\n", latest.version)),
        "{metrics}"
    );
    let (status, body) = app
        .post(COMPANY, &json!({"Registrations": [registration("S1", "I2")]}))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(app.status_of(COMPANY, "S1", "I2").await["TiresLeft"], 4);

    // A newer build's migration this build cannot serve on says so.
    app.execute_sql(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES (902, 'older_builds_cannot_serve', '2030-01-02T00:00:00Z', '2');
         UPDATE schema_compatibility SET needs_migration = 902;",
    );
    // This instance, still running, is out of service: its health check says why, so that a
    // load balancer stops sending to it.
    let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status.as_u16(), 503, "{body}");
    assert_eq!(
        body["Error"],
        "a newer build migrated the database to a schema this build may not serve: upgrade this instance"
    );
    // And it writes nothing a newer schema would misread: a batch is a 503 the POS retries
    // (reaching an upgraded instance), nothing of it kept.
    let res = app
        .post_raw(
            COMPANY,
            &token(),
            json!({"Registrations": [registration("S1", "I3")]}).to_string(),
        )
        .await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let (_, body) = json_of(res).await;
    assert!(
        body["Error"].as_str().unwrap().contains("upgrade this instance"),
        "{body}"
    );
    assert_eq!(
        app.query_i64("SELECT count(*) FROM registrations WHERE invoice_number = 'I3'"),
        0
    );
    let err = match app.try_restart().await {
        Ok(_) => panic!("served a database its schema says this build may not serve"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(
            "the database was made by a newer warranty-gateway (its migration V902__older_builds_cannot_serve is \
             unknown to this build, and only builds that know V902 may serve it); run a newer build"
        ),
        "{err}"
    );
}
