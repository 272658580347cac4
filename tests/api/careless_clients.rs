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

/// POSTs to the test tenant and answers the batch id it was given.
async fn batch_id_of_a_post(app: &TestApp, invoice: &str) -> i64 {
    let res = app
        .post_raw(
            "tirecompany_test",
            &token(),
            json!({"Registrations": [registration("S1", invoice)]}).to_string(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    batch_id(&res)
}

/// The `X-Batch-Id` of an answer.
fn batch_id(res: &reqwest::Response) -> i64 {
    res.headers()["x-batch-id"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_batch_id_once_given_never_names_another_upload() {
    let app = spawn_app().await;
    let first = batch_id_of_a_post(&app, "I1").await;
    let second = batch_id_of_a_post(&app, "I2").await;
    assert!(second > first);
    // The reset deletes the newest batches; the ids they had are not given again.
    app.reset_test_tenant().await;
    let (status, _) = app.batch("tirecompany_test", second).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let third = batch_id_of_a_post(&app, "I3").await;
    assert!(third > second, "batch {third} after {second}");
    // Nor after a restart.
    let app = app.restart().await;
    app.reset_test_tenant().await;
    let fourth = batch_id_of_a_post(&app, "I4").await;
    assert!(fourth > third, "batch {fourth} after {third}");
}

#[tokio::test]
async fn the_history_keeps_the_first_thousand_rejected_entries_and_counts_the_rest() {
    let app = spawn_app().await;
    // 1,500 registrations without an InvoiceNumber (and so without a key), then one good one.
    let mut records: Vec<Value> = (0..1_500)
        .map(|i| with(registration(&format!("S{i}"), "x"), json!({"InvoiceNumber": null})))
        .collect();
    records.push(registration("S1", "GOOD"));
    // And one empty claim: past the first thousand too, each of its errors counted once.
    let body = json!({"Registrations": records, "Claims": [{}]});
    let res = app.post_raw(COMPANY, &token(), body.to_string()).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let id = batch_id(&res);
    let (_, results) = json_of(res).await;
    assert_eq!(
        results.as_array().unwrap().len(),
        1_502,
        "every record keeps its result entry"
    );

    let (status, batch) = app.batch(COMPANY, id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        batch["Records"]["Registrations"],
        json!({"Accepted": 1, "Rejected": 1_500})
    );
    let kept = batch["RejectedRecords"].as_array().unwrap();
    assert_eq!(kept.len(), 1_000);
    assert_eq!(
        (kept[0]["Index"].clone(), kept[999]["Index"].clone()),
        (json!(0), json!(999))
    );
    let counted = batch["RejectedCounts"].as_array().unwrap();
    assert_eq!(
        counted[0],
        json!({"Record": "Registrations", "Field": "InvoiceNumber", "Code": "required", "Count": 500})
    );
    assert!(
        counted[1..].iter().all(|c| c["Record"] == "Claims" && c["Count"] == 1),
        "the claim's errors, each once: {counted:?}"
    );
    let stored = app.query_i64(&format!("SELECT count(*) FROM batch_rejections WHERE batch_id = {id}"));
    assert_eq!(stored, 1_000);
}

#[tokio::test]
async fn a_big_answer_is_gzip_compressed_for_a_client_that_accepts_it() {
    let app = spawn_app().await;
    let broken: Vec<Value> = (0..200).map(|_| json!({})).collect();
    let body = json!({"Registrations": broken}).to_string();
    let post = |accept: Option<&'static str>, body: String| {
        let mut req = app.client.post(app.url(COMPANY)).bearer_auth(token()).body(body);
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        req.send()
    };
    let gunzip = |bytes: &[u8]| {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
        serde_json::from_str::<Value>(&out).unwrap()
    };

    let plain = post(None, body.clone()).await.unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(plain.as_array().unwrap().len(), 200);

    let zipped = post(Some("br;q=1, gzip;q=0.5"), body.clone()).await.unwrap();
    assert_eq!(zipped.status(), StatusCode::BAD_REQUEST);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let id = batch_id(&zipped);
    let bytes = zipped.bytes().await.unwrap();
    assert!(
        bytes.len() * 10 < plain.to_string().len(),
        "{} bytes compressed",
        bytes.len()
    );
    assert_eq!(gunzip(&bytes), plain, "the same entries, compressed");

    // Refused explicitly: plain.
    let refused = post(Some("gzip;q=0, identity"), body).await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    // A small answer stays plain even for a client that takes gzip.
    let small = json!({"Registrations": [registration("S1", "I1")]}).to_string();
    let small = post(Some("gzip"), small).await.unwrap();
    assert_eq!(small.status(), StatusCode::OK);
    assert!(small.headers().get("content-encoding").is_none());
    // The batch's history entry too.
    let detail = app
        .client
        .get(format!("{}/batches/{id}", app.url(COMPANY)))
        .bearer_auth(token())
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(detail.headers()["content-encoding"], "gzip");
    let detail = gunzip(&detail.bytes().await.unwrap());
    assert_eq!(detail["RejectedRecords"].as_array().unwrap().len(), 200);

    // Lookups: a big answer (many claims) compressed, a small one (the status) as it is.
    let covered = with(registration("S2", "I2"), json!({"TiresCovered": 20}));
    let claims: Vec<Value> = (0..20)
        .map(|i| claim("S2", "I2", &format!("R{i}"), 1, "2024-03-01"))
        .collect();
    let (status, res) = app
        .post(COMPANY, &json!({"Registrations": [covered], "Claims": claims}))
        .await;
    assert!(status.is_success(), "{res}");
    let get = |query: &str| {
        app.client
            .get(format!("{}?{query}", app.url(COMPANY)))
            .bearer_auth(token())
            .header("accept-encoding", "gzip")
            .send()
    };
    let claims = get("rec=claims&ShopID=S2&InvoiceNumber=I2").await.unwrap();
    assert_eq!(claims.headers()["content-encoding"], "gzip");
    assert_eq!(gunzip(&claims.bytes().await.unwrap()).as_array().unwrap().len(), 20);
    let status = get("rec=registrationstatus&ShopID=S1&InvoiceNumber=I1").await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    assert!(status.headers().get("content-encoding").is_none());
    assert!(status.headers().get("vary").is_none());
    // v3 pages too.
    for i in 0..10 {
        let (status, _) = app
            .v3_post(REGISTRATIONS, &v3_token(), &v3_registration("V3", &format!("P{i}")))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let page = app
        .client
        .get(app.v3_url(&format!("{REGISTRATIONS}?storeNumber=V3")))
        .bearer_auth(v3_token())
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "gzip");
    assert_eq!(gunzip(&page.bytes().await.unwrap())["totalRecordCount"], 10);
}

/// A body of `n` empty Registrations: each refused with every required field named.
fn empty_registrations(n: usize) -> String {
    json!({"Registrations": vec![json!({}); n]}).to_string()
}

#[tokio::test]
async fn a_refusal_too_big_to_hold_is_streamed_whole_with_its_length() {
    let app = spawn_app().await;
    // 20,000 empty records answer about 18 MB of JSON: more than the server holds at once.
    let res = app.post_raw(COMPANY, &token(), empty_registrations(20_000)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("content-encoding").is_none());
    let length: usize = res.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let id = batch_id(&res);
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), length);
    assert!(length > 16 * 1024 * 1024, "{length} bytes");
    let entries: Value = serde_json::from_slice(&body).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 20_000);
    assert_eq!(entries[19_999]["Index"], 19_999);
    assert_eq!(
        errors_of(&entries[19_999])[0],
        ("ShopID".to_owned(), "required".to_owned())
    );
    let (_, batch) = app.batch(COMPANY, id).await;
    assert_eq!(batch["RejectedRecords"].as_array().unwrap().len(), 1_000);
    assert_eq!(
        batch["RejectedCounts"][0]["Count"], 19_000,
        "{}",
        batch["RejectedCounts"]
    );
}

#[tokio::test]
async fn another_partner_is_served_while_a_big_refusal_is_judged() {
    let app = spawn_app().await;
    let big = {
        // Whole registrations (about 30 MB), each without its TiresCovered.
        let broken = with(registration("S1", "I1"), json!({"TiresCovered": null}));
        let body = json!({"Registrations": vec![broken; 100_000]}).to_string();
        let (client, url) = (app.client.clone(), app.url(COMPANY));
        tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token()).body(body).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            let id = batch_id(&res);
            res.bytes().await.unwrap();
            id
        })
    };
    // While its 100,000 records are decoded (a second or more), another partner's batch comes
    // in.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let res = app
        .post_raw(
            OTHER,
            &other_token(),
            json!({"Registrations": [registration("S1", "I1")]}).to_string(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let other = batch_id(&res);
    let big = big.await.unwrap();
    // Batch ids are drawn in the order batches are written: the small one was written first.
    // (A refusal used to hold the write lock while its body was decoded, and came first.)
    assert!(
        other < big,
        "the one-record batch ({other}) waited for the refusal ({big})"
    );
}
