//! The trail of every invoice (`/ops/records`) and a batch's rejected records as CSV
//! (`rejected.csv`, for operators and for the partner): what support reads at 2 a.m.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn batch_id(res: &reqwest::Response) -> i64 {
    res.headers()["x-batch-id"].to_str().unwrap().parse().unwrap()
}

/// Posts `body` (as sent, byte for byte) and answers the batch id.
async fn post(app: &TestApp, company: &str, token: &str, body: &str) -> i64 {
    let res = app.post_raw(company, token, body.to_owned()).await;
    assert!(
        [StatusCode::OK, StatusCode::PARTIAL_CONTENT, StatusCode::BAD_REQUEST].contains(&res.status()),
        "{}",
        res.status()
    );
    batch_id(&res)
}

/// The trail of one match: (batch id, record, index, outcome, codes).
fn trail(m: &Value) -> Vec<(i64, String, i64, String, Vec<String>)> {
    m["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert!(t["received_at"].as_str().unwrap().ends_with('Z'));
            (
                t["batch_id"].as_i64().unwrap(),
                t["record"].as_str().unwrap().to_owned(),
                t["index"].as_i64().unwrap(),
                t["outcome"].as_str().unwrap().to_owned(),
                t["codes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn row(batch: i64, record: &str, index: i64, outcome: &str, codes: &[&str]) -> (i64, String, i64, String, Vec<String>) {
    (
        batch,
        record.to_owned(),
        index,
        outcome.to_owned(),
        codes.iter().map(|c| c.to_string()).collect(),
    )
}

#[tokio::test]
async fn support_finds_every_batch_that_carried_an_invoice_and_what_became_of_each_record() {
    let app = spawn_app().await;
    let bad_claim = with(
        claim("S1", "I1", "R0", 1, "2024-03-01"),
        json!({"ClaimDate": "someday"}),
    );
    let first = json!({
        "Registrations": [registration("S1", "I9"), registration(" S1 ", "I1")],
        "Claims": [bad_claim],
    });
    let first = post(&app, COMPANY, &token(), &first.to_string()).await;
    let second = json!({
        "Registrations": [registration("S1", "I1")],
        "Claims": [claim("S1", "I1", "R1", 1, "2024-03-01")],
    });
    let second = post(&app, COMPANY, &token(), &second.to_string()).await;
    let changed = with(registration("S1", "I1"), json!({"CurrentMileage": 42001}));
    let third = post(
        &app,
        COMPANY,
        &token(),
        &json!({"Registrations": [changed]}).to_string(),
    )
    .await;
    let body = json!({"Registrations": [registration("S1", "I1")]}).to_string();
    let test = post(&app, &format!("{COMPANY}_test"), &token(), &body).await;
    let other = post(&app, OTHER, &other_token(), &body).await;

    let (status, found) = app.ops_get("/records?ShopID=S1&InvoiceNumber=I1", &support()).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let matches = found["matches"].as_array().unwrap();
    let whose: Vec<(&str, &str)> = matches
        .iter()
        .map(|m| (m["company"].as_str().unwrap(), m["tenant"].as_str().unwrap()))
        .collect();
    assert_eq!(whose, [(COMPANY, "live"), (COMPANY, "test"), (OTHER, "live")]);

    let live = &matches[0];
    assert_eq!(
        trail(live),
        [
            row(third, "Registrations", 0, "updated", &[]),
            row(second, "Registrations", 0, "unchanged", &[]),
            row(second, "Claims", 0, "inserted", &[]),
            row(first, "Registrations", 1, "inserted", &[]),
            row(first, "Claims", 0, "rejected", &["invalid_date"]),
        ]
    );
    // The stored records in the guide's shapes, and the status a GET would answer.
    assert_eq!(live["registration"]["PartnerID"], 1001);
    assert_eq!(live["registration"]["CurrentMileage"], 42001);
    assert_eq!(live["claims"].as_array().unwrap().len(), 1);
    assert_eq!(live["claims"][0]["RepairInvoiceNumber"], "R1");
    assert_eq!(live["sales"], json!([]));
    assert_eq!(live["cancellations"], json!([]));
    let status = app.status_of(COMPANY, "S1", "I1").await;
    assert_eq!(live["status"], status);
    assert_eq!(trail(&matches[1]), [row(test, "Registrations", 0, "inserted", &[])]);
    assert_eq!(trail(&matches[2]), [row(other, "Registrations", 0, "inserted", &[])]);

    // Narrowed to one partner, one tenant; padding is no part of the key.
    let (_, found) = app
        .ops_get(
            &format!("/records?ShopID=%20S1&InvoiceNumber=I1&company={OTHER}"),
            &support(),
        )
        .await;
    assert_eq!(found["matches"].as_array().unwrap().len(), 1);
    assert_eq!(found["matches"][0]["company"], OTHER);
    let (_, found) = app
        .ops_get("/records?ShopID=S1&InvoiceNumber=I1&tenant=test", &support())
        .await;
    assert_eq!(found["matches"].as_array().unwrap().len(), 1);
    assert_eq!(found["matches"][0]["tenant"], "test");
    let (status, found) = app.ops_get("/records?ShopID=S1&InvoiceNumber=NOPE", &support()).await;
    assert_eq!(
        (status, found),
        (StatusCode::OK, json!({"matches": [], "other_shops": []}))
    );

    // A record refused by its fields is found by the ShopID and InvoiceNumber it named, even
    // with no registration stored.
    let orphan = with(sale("S7", "I7"), json!({"TireCount": "four"}));
    let refused = post(&app, COMPANY, &token(), &json!({"Sales": [orphan]}).to_string()).await;
    let (_, found) = app.ops_get("/records?ShopID=S7&InvoiceNumber=I7", &support()).await;
    assert_eq!(found["matches"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["matches"][0]["registration"], Value::Null);
    assert_eq!(found["matches"][0]["status"], Value::Null);
    assert_eq!(
        trail(&found["matches"][0]),
        [row(refused, "Sales", 0, "rejected", &["invalid_number"])]
    );

    // Every search is in the audit log.
    let (_, log) = app.ops_get("/audit", &operator_token(ADMIN, ADMIN_SECRET)).await;
    let searches: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "records_search")
        .collect();
    assert_eq!(searches.len(), 5, "{log}");
    assert_eq!(searches[0]["operator"], SUPPORT);
    assert_eq!(searches[0]["detail"], "ShopID S7 InvoiceNumber I7");
    assert_eq!(searches[3]["company"], OTHER);
}

/// Support often has only the invoice number: every shop that has it, each shop's tenant a
/// match of its own, found by what is stored as well as by the trail.
#[tokio::test]
async fn an_invoice_number_alone_finds_the_invoice_at_every_shop() {
    let app = spawn_app().await;
    let night = json!({
        "Registrations": [registration("S2", "I1"), registration("S1", "I1"), registration("S1", "I9")],
        // No registration at S4: rejected, and in the trail.
        "Claims": [claim("S4", "I1", "R1", 1, "2024-03-01")],
    });
    let night = post(&app, COMPANY, &token(), &night.to_string()).await;
    post(
        &app,
        OTHER,
        &other_token(),
        &json!({"Sales": [sale("S3", "I1")]}).to_string(),
    )
    .await;

    let shops = |found: &Value| -> Vec<(String, String)> {
        found["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["shop_id"].as_str().unwrap().to_owned(),
                    m["company"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let at = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(s, c)| (s.to_string(), c.to_string())).collect()
    };
    let (status, found) = app.ops_get("/records?InvoiceNumber=I1", &support()).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        shops(&found),
        at(&[("S1", COMPANY), ("S2", COMPANY), ("S3", OTHER), ("S4", COMPANY)])
    );
    let matches = found["matches"].as_array().unwrap();
    assert_eq!(matches[0]["registration"]["ShopID"], "S1");
    assert_eq!(matches[0]["status"], app.status_of(COMPANY, "S1", "I1").await);
    assert_eq!(matches[2]["sales"][0]["ShopID"], "S3");
    assert_eq!(
        trail(&matches[3]),
        [row(night, "Claims", 0, "rejected", &["registration_not_found"])]
    );
    // A blank ShopID is none; the partner and tenant narrow it as before.
    let (_, found) = app
        .ops_get(
            &format!("/records?ShopID=%20&InvoiceNumber=I1&company={OTHER}"),
            &support(),
        )
        .await;
    assert_eq!(shops(&found), at(&[("S3", OTHER)]));
    let (_, found) = app.ops_get("/records?InvoiceNumber=I1&tenant=test", &support()).await;
    assert_eq!(found, json!({"matches": [], "other_shops": []}));

    // With the history gone, the stored registrations and sales are still found.
    app.execute_sql("DELETE FROM batch_records");
    let (_, found) = app.ops_get("/records?InvoiceNumber=I1", &support()).await;
    assert_eq!(shops(&found), at(&[("S1", COMPANY), ("S2", COMPANY), ("S3", OTHER)]));

    // At more shops than a search answers for, it asks for the ShopID rather than answer part.
    let many: Vec<Value> = (0..26).map(|i| registration(&format!("M{i:02}"), "MANY")).collect();
    post(&app, COMPANY, &token(), &json!({"Registrations": many}).to_string()).await;
    let (status, body) = app.ops_get("/records?InvoiceNumber=MANY", &support()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["message"],
        "InvoiceNumber \"MANY\" is at 26 shops, more than the 25 a search answers for: add ShopID (or company, or tenant)"
    );
    let (status, found) = app.ops_get("/records?InvoiceNumber=MANY&ShopID=M07", &support()).await;
    assert_eq!((status, shops(&found)), (StatusCode::OK, at(&[("M07", COMPANY)])));
    assert_eq!(found["other_shops"], json!([]), "a match names no other shop");

    // The audit log says what was searched.
    let (_, log) = app.ops_get("/audit", &operator_token(ADMIN, ADMIN_SECRET)).await;
    assert_eq!(log["items"][0]["detail"], "ShopID M07 InvoiceNumber MANY");
    assert_eq!(log["items"][1]["detail"], "InvoiceNumber MANY at every shop");

    // A ShopID that has nothing of the invoice: the shops that have it, within what was asked
    // (the other partner's S3 for it alone; none when more than 25 shops have it).
    let (status, found) = app.ops_get("/records?InvoiceNumber=I1&ShopID=1", &support()).await;
    assert_eq!(
        (status, found),
        (
            StatusCode::OK,
            json!({"matches": [], "other_shops": ["S1", "S2", "S3"]})
        )
    );
    let (_, found) = app
        .ops_get(
            &format!("/records?InvoiceNumber=I1&ShopID=S2&company={OTHER}"),
            &support(),
        )
        .await;
    assert_eq!(found, json!({"matches": [], "other_shops": ["S3"]}));
    let (_, found) = app.ops_get("/records?InvoiceNumber=MANY&ShopID=M99", &support()).await;
    assert_eq!(found, json!({"matches": [], "other_shops": []}));
}

#[tokio::test]
async fn a_records_search_names_what_is_wrong_with_it() {
    let app = spawn_app().await;
    for (query, names) in [
        ("?ShopID=S1", "InvoiceNumber"),
        ("?ShopID=S1&InvoiceNumber=%20", "InvoiceNumber"),
        ("?ShopID=S1&InvoiceNumber=I1&company=nobody", "company"),
        ("?ShopID=S1&InvoiceNumber=I1&tenant=staging", "tenant"),
        ("?ShopID=S1&ShopID=S2&InvoiceNumber=I1", "ShopID"),
    ] {
        let (status, body) = app.ops_get(&format!("/records{query}"), &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.to_string().contains(names), "{query}: {body}");
    }
    // A partner's token is no way in.
    let (status, _) = app.ops_get("/records?ShopID=S1&InvoiceNumber=I1", &token()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A partner quotes a v3 id: support finds the registration by it alone, in its partner's tenant,
/// with the v2 records and trail filed under it.
#[tokio::test]
async fn support_finds_a_registration_by_its_v3_id() {
    let app = spawn_app().await;
    let registration = json!({
        "product_id": "TPP-36", "invoiceNumber": "V-1", "storeNumber": "0056",
        "enrollDate": "2024-08-01T13:08:00.000Z", "customer": {"name": "Jane Roe"},
        "tires": [{"make": "M", "model": "D", "size": "225/65R17", "retailPrice": 199.99}]
    });
    let (status, created) = app
        .v3_post("/tire-protection/registrations", &v3_sandbox_token(), &registration)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, found) = app.ops_get(&format!("/records?id={id}"), &support()).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let matches = found["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{found}");
    assert_eq!(
        (&matches[0]["company"], &matches[0]["tenant"], &matches[0]["shop_id"]),
        (&json!(COMPANY), &json!("test"), &json!("0056"))
    );
    assert_eq!(matches[0]["registration"]["InvoiceNumber"], "V-1");
    assert_eq!(matches[0]["status"]["TiresLeft"], 1);

    // A motor-club membership's id is said to be one; an id nobody has finds nothing.
    let member = json!({
        "product_id": "TPP-36", "invoiceNumber": "M-1", "storeNumber": "0056",
        "enrollDate": "2024-09-15T13:08:00.000Z", "customer": {"name": "Sam Poe"}
    });
    let (status, created) = app.v3_post("/motor-club/registrations", &v3_token(), &member).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let member_id = created["id"].as_str().unwrap();
    let (status, body) = app.ops_get(&format!("/records?id={member_id}"), &support()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        format!(
            "id \"{member_id}\" is a motor-club membership of {COMPANY} (live), which is no v2 record: the search \
             finds tire-protection registrations and v2 records"
        )
    );
    let (status, body) = app.ops_get("/records?id=ffffffffffffffffffffffff", &support()).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"matches": [], "other_shops": []}))
    );
    // The id names everything: it comes alone.
    let (status, body) = app
        .ops_get(&format!("/records?id={id}&InvoiceNumber=V-1"), &support())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let alone = "id names one registration (its partner, tenant, shop and invoice): send it without InvoiceNumber";
    assert_eq!(body["error"]["message"], alone);
    // Each search is audited, the one by an unknown id too.
    let (_, audit) = app.ops_get("/audit", &operator_token(ADMIN, ADMIN_SECRET)).await;
    let details: Vec<&str> = (audit["items"].as_array().unwrap().iter())
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(details.contains(&"ShopID 0056 InvoiceNumber V-1"), "{details:?}");
    assert!(details.contains(&"v3 id ffffffffffffffffffffffff"), "{details:?}");
}

/// A CSV answer's rows, header first.
async fn csv_rows(res: reqwest::Response) -> Vec<Vec<String>> {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    csv::Reader::from_reader(text.as_bytes())
        .into_records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn rejected_csv_lists_each_error_with_the_record_as_it_was_sent() {
    let app = spawn_app().await;
    // Sent as a POS would: odd spacing, an unknown field, a record that is not an object.
    let broken = r#"{ "ShopID" : "S1", "InvoiceNumber": "I1", "ClaimDate": "someday", "RepairShopID": "S1",
        "RepairInvoiceNumber": "R1", "TireClaimCount": -1, "CreditAmount": 1, "CostPerUnit": 1,
        "TireBrand": "B", "TireSize": "Z", "TireCost": 1, "Colour": "red, \"bright\"" }"#;
    let body = format!(
        r#"{{"Registrations": [{}], "Claims": [{broken}, 5]}}"#,
        registration("S1", "I1")
    );
    let id = post(&app, COMPANY, &token(), &body).await;

    let partner_csv = app
        .get_url(&format!("{}/batches/{id}/rejected.csv", app.url(COMPANY)), &token())
        .await;
    assert_eq!(
        partner_csv.headers()["content-disposition"],
        format!("attachment; filename=\"batch-{id}-rejected.csv\"")
    );
    let rows = csv_rows(partner_csv).await;
    let fields: Vec<(&str, &str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (&*r[0], &*r[1], &*r[2], &*r[3], &*r[4], &*r[5]))
        .collect();
    assert_eq!(
        fields,
        [
            ("Claims", "0", "S1", "I1", "ClaimDate", "invalid_date"),
            ("Claims", "0", "S1", "I1", "TireClaimCount", "negative"),
            ("Claims", "1", "", "", "Claims", "invalid_type"),
        ]
    );
    assert!(rows[0][6].starts_with("ClaimDate "), "{:?}", rows[0]);
    assert_eq!(rows[0][7], broken, "the record exactly as sent");
    assert_eq!(rows[2][7], "5");

    // The same for an operator, audited; the header names the columns.
    let url = format!("{}/ops/batches/{id}/rejected.csv", app.address);
    let res = app.get_url(&url, &support()).await;
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("Record,Index,ShopID,InvoiceNumber,Field,Code,Message,Sent\n"),
        "{text}"
    );
    let (_, log) = app.ops_get("/audit", &operator_token(ADMIN, ADMIN_SECRET)).await;
    assert_eq!(log["items"][0]["action"], "rejected_csv");
    assert_eq!(log["items"][0]["detail"], format!("batch {id}"));
    assert_eq!(log["items"][0]["company"], COMPANY);

    // A batch with nothing rejected is the header alone.
    let clean = post(
        &app,
        COMPANY,
        &token(),
        &json!({"Sales": [sale("S1", "I1")]}).to_string(),
    )
    .await;
    let res = app
        .get_url(&format!("{}/batches/{clean}/rejected.csv", app.url(COMPANY)), &token())
        .await;
    assert_eq!(
        res.text().await.unwrap(),
        "Record,Index,ShopID,InvoiceNumber,Field,Code,Message,Sent\n"
    );

    // Another partner's batch is not there for them; surfaces do not cross.
    let res = app
        .get_url(&format!("{}/batches/{id}/rejected.csv", app.url(OTHER)), &other_token())
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .get_url(&format!("{}/batches/{id}/rejected.csv", app.url(COMPANY)), &support())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.get_url(&url, &token()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .get_url(&format!("{}/ops/batches/999999/rejected.csv", app.address), &support())
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_big_batch_keeps_every_records_place_in_its_trail() {
    let app = spawn_app().await;
    // More records than one statement of trail rows holds, and a rest: each keeps its index.
    let registrations: Vec<Value> = (0..300).map(|i| registration("S9", &format!("B{i:03}"))).collect();
    let id = post(
        &app,
        COMPANY,
        &token(),
        &json!({"Registrations": registrations}).to_string(),
    )
    .await;
    assert_eq!(
        app.query_i64(&format!("SELECT count(*) FROM batch_records WHERE batch_id = {id}")),
        300
    );
    for i in [0, 255, 256, 299] {
        let (_, found) = app
            .ops_get(&format!("/records?ShopID=S9&InvoiceNumber=B{i:03}"), &support())
            .await;
        assert_eq!(
            trail(&found["matches"][0]),
            [row(id, "Registrations", i, "inserted", &[])],
            "{found}"
        );
    }
}
