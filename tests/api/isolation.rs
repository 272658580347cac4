//! Tenants and partners never see each other's data; what was answered 200 survives a restart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const TEST: &str = "tirecompany_test";
const Q: &str = "rec=registrations&ShopID=S1&InvoiceNumber=I1";

#[tokio::test]
async fn live_and_test_tenants_are_segregated_both_ways() {
    let app = spawn_app().await;
    let test_reg = with(registration("S1", "I1"), json!({"VIN": "TESTVIN"}));
    assert_eq!(
        app.post(TEST, &json!({"Registrations": [test_reg]})).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get(COMPANY, Q).await, (StatusCode::NO_CONTENT, Value::Null));
    let (status, got) = app.get(TEST, Q).await;
    assert_eq!((status, &got["VIN"]), (StatusCode::OK, &json!("TESTVIN")));

    // The same key on live is a different record; neither overwrites the other.
    let live_reg = with(registration("S1", "I1"), json!({"VIN": "LIVEVIN"}));
    let (_, res) = app.post(COMPANY, &json!({"Registrations": [live_reg]})).await;
    assert_eq!(res[0]["Action"], "inserted");
    assert_eq!(app.get(COMPANY, Q).await.1["VIN"], "LIVEVIN");
    assert_eq!(app.get(TEST, Q).await.1["VIN"], "TESTVIN");

    // A test claim cannot use up a live registration, and the other way round.
    let c = claim("S1", "I1", "R1", 4, "2024-03-01");
    assert_eq!(app.post(TEST, &json!({"Claims": [c.clone()]})).await.0, StatusCode::OK);
    assert_eq!(app.status_of(TEST, "S1", "I1").await["TiresLeft"], 0);
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await["TiresLeft"], 4);
    assert_eq!(
        app.get(COMPANY, "rec=claims&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::NO_CONTENT
    );
    // The test tenant's name is case-insensitive like the company's.
    assert_eq!(app.get("TireCompany_TEST", Q).await.1["VIN"], "TESTVIN");
}

#[tokio::test]
async fn a_registration_only_in_live_is_not_found_from_test() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
            .await
            .0,
        StatusCode::OK
    );
    let (status, res) = app
        .post(TEST, &json!({"Claims": [claim("S1", "I1", "R1", 1, "2024-03-01")]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors_of(&res[0]),
        vec![("InvoiceNumber".into(), "registration_not_found".into())]
    );
    // The refusal says where the partner has it: its own live tenant.
    let message = res[0]["Errors"][0]["Message"].as_str().unwrap();
    assert!(
        message.ends_with("; your live tenant has this registration"),
        "{message}"
    );
}

#[tokio::test]
async fn partners_never_see_each_others_data() {
    let app = spawn_app().await;
    let mine = with(registration("S1", "I1"), json!({"VIN": "MINE"}));
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [mine]})).await.0,
        StatusCode::OK
    );
    // othercompany holds nothing under the same shop and invoice, and a claim on it is refused
    // without a word of where tirecompany has it.
    assert_eq!(app.get(OTHER, Q).await, (StatusCode::NO_CONTENT, Value::Null));
    let (_, res) = app
        .post(OTHER, &json!({"Claims": [claim("S1", "I1", "R1", 1, "2024-03-01")]}))
        .await;
    let message = res[0]["Errors"][0]["Message"].as_str().unwrap();
    assert!(message.ends_with("(or earlier in the same batch)"), "{message}");
    let theirs = with(registration("S1", "I1"), json!({"VIN": "THEIRS"}));
    let (_, res) = app.post(OTHER, &json!({"Registrations": [theirs]})).await;
    assert_eq!(res[0]["Action"], "inserted");
    let (_, got) = app.get(OTHER, Q).await;
    assert_eq!((&got["VIN"], &got["PartnerID"]), (&json!("THEIRS"), &json!(OTHER_ID)));
    let (_, got) = app.get(COMPANY, Q).await;
    assert_eq!((&got["VIN"], &got["PartnerID"]), (&json!("MINE"), &json!(PARTNER_ID)));

    // One partner's token opens nothing of the other's, live or test, read or write.
    for company in [COMPANY, TEST] {
        let res = app.get_raw(company, &other_token(), Q).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body = json!({"Registrations": [registration("S1", "X")]}).to_string();
        assert_eq!(
            app.post_raw(company, &other_token(), body).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=X").await.0,
        StatusCode::NO_CONTENT
    );
    // A token signed with the right secret but another partner's id is refused as well.
    let wrong_id = sign(SECRET, json!({"partnerid": OTHER_ID}));
    assert_eq!(
        app.get_raw(OTHER, &wrong_id, Q).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn accepted_batches_survive_a_restart() {
    let app = spawn_app().await;
    let body = json!({
        "Registrations": [registration("S1", "I1")],
        "Claims": [claim("S1", "I1", "R1", 1, "2024-03-01")],
    });
    assert_eq!(app.post(COMPANY, &body).await.0, StatusCode::OK);
    assert_eq!(
        app.post(TEST, &json!({"Sales": [sale("S1", "I1")]})).await.0,
        StatusCode::OK
    );
    let before = app.status_of(COMPANY, "S1", "I1").await;

    let app = app.restart().await;
    if app.postgres.is_none() {
        assert!(app.db_path().exists());
    }
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await, before);
    assert_eq!(
        app.get(COMPANY, "rec=claims&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(TEST, "rec=sales&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::OK
    );
    // A resend after the restart is recognised as the same record.
    let (_, res) = app
        .post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
        .await;
    assert_eq!(res[0]["Action"], "unchanged");
}
