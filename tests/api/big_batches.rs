//! Big bodies: their Registrations are judged and written a piece at a time while the rest of
//! the body is still being decoded. What a partner sees must not show it: one batch, judged as
//! a whole in processing order, all of it or nothing of it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Registrations over several of the pieces a big body is decoded in (512 records each), so
/// that the body is decoded while its registrations are written.
const MANY: usize = 1_500;

fn registrations(prefix: &str, n: usize) -> Vec<Value> {
    (0..n).map(|i| registration("S1", &format!("{prefix}{i}"))).collect()
}

fn registration_count(app: &TestApp) -> i64 {
    app.query_i64("SELECT COUNT(*) FROM registrations")
}

#[tokio::test]
async fn a_big_batch_is_judged_as_one_across_its_pieces() {
    let app = spawn_app().await;
    let mut regs = registrations("I", MANY);
    // A resend of the fourth registration, in a later piece: 2 tires now.
    regs.push(with(registration("S1", "I3"), json!({"TiresCovered": 2})));
    let body = json!({
        "Registrations": regs,
        "Claims": [
            // Against the resend (2 tires): 3 are too many.
            claim("S1", "I3", "R1", 3, "2024-03-01"),
            claim("S1", "I10", "R2", 2, "2024-03-01"),
            claim("S1", &format!("I{}", MANY - 1), "R3", 4, "2024-03-01"),
            claim("S1", "NOPE", "R4", 1, "2024-03-01"),
        ],
        "Cancellations": [cancellation("S1", "I700", "X1", 4, "2024-04-01")],
    });
    assert!(body.to_string().len() > 512 * 1024, "the body is decoded in pieces");
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{}", &res.to_string()[..300]);
    let entries = res.as_array().unwrap();
    assert_eq!(entries.len(), MANY + 1 + 4 + 1);
    // Processing order, each array in its own order, with its indexes.
    for (i, e) in entries[..=MANY].iter().enumerate() {
        assert_eq!(
            (e["Record"].as_str(), e["Index"].as_u64()),
            (Some("Registrations"), Some(i as u64))
        );
    }
    assert_eq!(entries[3]["Action"], "inserted");
    assert_eq!(entries[MANY]["Action"], "updated", "{}", entries[MANY]);
    let claims = &entries[MANY + 1..MANY + 5];
    assert_eq!(
        errors_of(&claims[0]),
        [("TireClaimCount".into(), "not_enough_tires".into())]
    );
    assert_eq!(claims[1]["Status"], "Successfully Posted", "{}", claims[1]);
    assert_eq!(claims[2]["Status"], "Successfully Posted", "{}", claims[2]);
    assert_eq!(
        errors_of(&claims[3]),
        [("InvoiceNumber".into(), "registration_not_found".into())]
    );
    assert_eq!(
        entries[MANY + 5]["Status"],
        "Successfully Posted",
        "{}",
        entries[MANY + 5]
    );

    assert_eq!(registration_count(&app), MANY as i64);
    assert_eq!(app.status_of(COMPANY, "S1", "I3").await["TiresLeft"], 2);
    assert_eq!(app.status_of(COMPANY, "S1", "I10").await["TiresLeft"], 2);
    assert_eq!(
        app.status_of(COMPANY, "S1", &format!("I{}", MANY - 1)).await["TiresLeft"],
        0
    );
    assert_eq!(app.status_of(COMPANY, "S1", "I700").await["TiresLeft"], 0);

    // The same body again: every registration is found stored, piece by piece.
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    let entries = res.as_array().unwrap();
    assert!(
        entries[..MANY - 1]
            .iter()
            .all(|e| e["Action"] == "unchanged" || e["Index"] == 3)
    );
    assert_eq!(registration_count(&app), MANY as i64);
}

/// A body that repeats its Registrations key keeps the last array, as JSON readers do, however
/// much of the first was written by the time the second arrived.
#[tokio::test]
async fn a_big_body_repeating_its_registrations_writes_only_the_last_array() {
    let app = spawn_app().await;
    let big = serde_json::to_string(&registrations("BIG", MANY)).unwrap();
    let short = serde_json::to_string(&registrations("SHORT", 2)).unwrap();

    let body = format!(r#"{{"Registrations": {big}, "registrations": {short}}}"#);
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let keys: Vec<&str> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"]["InvoiceNumber"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["SHORT0", "SHORT1"]);
    assert_eq!(registration_count(&app), 2);

    let body = format!(r#"{{"Registrations": {short}, "Registrations": {big}}}"#);
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(res.as_array().unwrap().len(), MANY);
    assert_eq!(res[0]["Key"]["InvoiceNumber"], "BIG0");
    assert_eq!(registration_count(&app), 2 + MANY as i64);
}

/// An error at the end of a big body refuses it all: the registrations written while it was
/// still being read are rolled back, and the refusal is in the history.
#[tokio::test]
async fn a_big_body_broken_after_its_registrations_writes_nothing() {
    let app = spawn_app().await;
    let big = serde_json::to_string(&registrations("I", MANY)).unwrap();
    let body = format!(r#"{{"Registrations": {big}, "Claims": 7}}"#);
    let res = app.post_raw(COMPANY, &token(), body).await;
    let batch_id = res.headers()["x-batch-id"].to_str().unwrap().to_owned();
    let (status, res) = json_of(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    assert_eq!(res[0]["Errors"][0]["Code"], "invalid_json", "{res}");
    assert_eq!(registration_count(&app), 0);
    let (status, entry) = app.batch(COMPANY, &batch_id).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["Status"], 400, "{entry}");

    // Unusable from its first byte: refused the same way.
    let body = format!(r#"{{"Registrations": {big}"#);
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(
        (status, res[0]["Errors"][0]["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    assert_eq!(registration_count(&app), 0);

    // The database took no fault from it.
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
