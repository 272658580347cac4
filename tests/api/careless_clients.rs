//! Values from clients are data, never structure: control characters are refused in every
//! string of either API and match nothing in a query or a path (on either engine: PostgreSQL
//! cannot store a NUL), surrounding whitespace is trimmed so a record is found by the keys it
//! was accepted with, and a batch id once given never names another upload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const REGISTRATIONS: &str = "/tire-protection/registrations";
const MEMBERS: &str = "/motor-club/registrations";

fn v3_registration(store: &str, invoice: &str) -> Value {
    let tire = json!({"make": "MICHELIN", "model": "DEFENDER", "size": "225/65R17", "retailPrice": 199.99});
    json!({
        "product_id": "TPP-36", "invoiceNumber": invoice, "storeNumber": store,
        "enrollDate": "2026-01-15T00:00:00.000Z", "customer": {"name": "Jane Roe"},
        "tires": [tire]
    })
}

fn member(invoice: &str) -> Value {
    json!({
        "product_id": "TPP-36", "invoiceNumber": invoice, "enrollDate": "2026-01-15T00:00:00.000Z",
        "customer": {"name": "John Doe", "address": {"line1": "10170 Church Ranch Way", "country": "US"}}
    })
}

/// The (field, code) pairs of a v3 400.
fn v3_errors(body: &Value) -> Vec<(String, String)> {
    body["error"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_control_character_in_any_v3_string_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let token = v3_token();
    let tire_cases = [
        ("/invoiceNumber", json!("A\u{0}B"), "invoiceNumber"),
        ("/storeNumber", json!("S\u{0}"), "storeNumber"),
        ("/customer/name", json!("Jane\u{0}Roe"), "customer.name"),
        ("/product_id", json!("TPP-36\u{0}"), "product_id"),
        ("/tires/0/size", json!("225\u{0}"), "tires[0].size"),
        ("/invoiceNumber", json!("A\nB"), "invoiceNumber"),
        ("/invoiceNumber", json!("\nAB"), "invoiceNumber"),
        ("/customer/name", json!("Jane \u{1b}[2J"), "customer.name"),
    ];
    for (pointer, value, field) in tire_cases {
        let mut body = v3_registration("S1", "I1");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let (status, res) = app.v3_post(REGISTRATIONS, &token, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field} = {value}: {res}");
        assert_eq!(
            v3_errors(&res),
            vec![(field.to_owned(), "invalid_character".to_owned())],
            "{res}"
        );
    }
    let mut body = member("M1");
    body["customer"]["address"]["line1"] = json!("10170\u{0} Church Ranch Way");
    let (status, res) = app.v3_post(MEMBERS, &token, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    assert_eq!(
        v3_errors(&res),
        vec![("customer.address.line1".to_owned(), "invalid_character".to_owned())]
    );
    let (_, page) = app.v3_get(REGISTRATIONS, &token).await;
    assert_eq!(page["totalRecordCount"], 0, "nothing was stored: {page}");
    let (_, page) = app.v3_get(MEMBERS, &token).await;
    assert_eq!(page["totalRecordCount"], 0, "nothing was stored: {page}");
}

#[tokio::test]
async fn a_control_character_in_a_query_or_a_path_matches_nothing() {
    let app = spawn_app().await;
    let token = v3_token();
    let (status, _) = app.v3_post(REGISTRATIONS, &token, &v3_registration("S1", "I1")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.v3_post(MEMBERS, &token, &member("M1")).await;
    assert_eq!(status, StatusCode::CREATED);

    for path in [
        format!("{REGISTRATIONS}?invoiceNumber=I1%00"),
        format!("{REGISTRATIONS}?storeNumber=%00"),
        format!("{MEMBERS}?invoiceNumber=M1%0a"),
    ] {
        let (status, page) = app.v3_get(&path, &token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(
            (page["totalRecordCount"].clone(), page["results"].clone()),
            (json!(0), json!([])),
            "{path}"
        );
    }
    for path in [
        format!("{REGISTRATIONS}/%00"),
        format!("{REGISTRATIONS}/65a0%001234/metadata"),
        format!("{MEMBERS}/%00%1b"),
    ] {
        let (status, body) = app.v3_get(&path, &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let cancel = json!({"cancelledOn": "2026-02-01T00:00:00.000Z"});
    for path in [
        format!("{REGISTRATIONS}?invoiceNumber=I1%00"),
        format!("{REGISTRATIONS}/%00"),
        format!("{MEMBERS}?invoiceNumber=%00"),
    ] {
        let (status, body) = app.v3_patch(&path, &token, &cancel).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // v2 too: a key with a NUL is a 204, whatever the record type.
    for rec in [
        "registrations",
        "registrationstatus",
        "claims",
        "sales",
        "cancellations",
    ] {
        let (status, body) = app
            .get(COMPANY, &format!("rec={rec}&ShopID=S1%00&InvoiceNumber=I1&OrgID=%00"))
            .await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null), "{rec}");
    }
    let (status, _) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(status, StatusCode::OK, "the registration itself is there");
}

#[tokio::test]
async fn padded_keys_are_trimmed_so_a_record_is_found_by_them() {
    let app = spawn_app().await;
    let padded = with(
        registration(" TRIM-S", "TRIM-I "),
        json!({"CustomerID": "  Jane Roe  ", "OrgID": " 77 "}),
    );
    let (status, res) = app.post(COMPANY, &json!({"Registrations": [padded]})).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(res[0]["Key"], json!({"ShopID": "TRIM-S", "InvoiceNumber": "TRIM-I"}));

    let (status, found) = app
        .get(COMPANY, "rec=registrations&ShopID=TRIM-S&InvoiceNumber=TRIM-I")
        .await;
    assert_eq!(status, StatusCode::OK, "found by the keys inside the padding");
    assert_eq!(
        (
            &found["ShopID"],
            &found["InvoiceNumber"],
            &found["CustomerID"],
            &found["OrgID"]
        ),
        (&json!("TRIM-S"), &json!("TRIM-I"), &json!("Jane Roe"), &json!("77"))
    );
    // A claim padded another way finds it too, and a padded resend updates, never duplicates.
    let claim = claim("TRIM-S  ", "  TRIM-I", " R1 ", 1, "2024-03-01");
    let (status, res) = app.post(COMPANY, &json!({"Claims": [claim]})).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let resend = registration("TRIM-S ", " TRIM-I");
    let (_, res) = app.post(COMPANY, &json!({"Registrations": [resend]})).await;
    assert_eq!(res[0]["Action"], "updated", "{res}");
    let status = app.status_of(COMPANY, "TRIM-S", "TRIM-I").await;
    assert_eq!(status["TiresLeft"], 3, "{status}");
    // And v3 finds what v2 stored, by its trimmed invoice and store.
    let (_, page) = app
        .v3_get(
            &format!("{REGISTRATIONS}?invoiceNumber=TRIM-I&storeNumber=TRIM-S"),
            &v3_token(),
        )
        .await;
    assert_eq!(page["totalRecordCount"], 1, "{page}");

    // v3 trims too, and v2 finds what v3 stored.
    let (status, _) = app
        .v3_post(REGISTRATIONS, &v3_token(), &v3_registration("  V3-S ", " V3-I  "))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, found) = app
        .get(COMPANY, "rec=registrations&ShopID=V3-S&InvoiceNumber=V3-I")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
}
