//! The v3 motor-club registrations: their own records (no tires, no v2 face), created once,
//! read by id and by page, their customer replaced, cancelled once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const MEMBERS: &str = "/motor-club/registrations";

/// The docs' "Registration object" of the POST example, exactly as written.
fn docs_registration() -> Value {
    json!({
        "product_id": "YOUR-PRODUCT-ID",
        "invoiceNumber": "001-20345",
        "enrollDate": "2024-09-15T13:08:00.000Z",
        "customer": {
            "name": "John Doe",
            "phone": "+13034579876",
            "email": "john.doe@example.com",
            "address": {
                "line1": "10170 Church Ranch Way",
                "line2": "Suite 320",
                "city": "Westminster",
                "state": "CO",
                "zip": "80021",
                "country": "US"
            }
        }
    })
}

/// The docs' PATCH example: the new customer.
fn docs_new_customer() -> Value {
    json!({
        "customer": {
            "name": "Jane Smith",
            "phone": "+18882684888",
            "email": "jane.smith@example.com",
            "address": {
                "line1": "300 N Beach St",
                "line2": "",
                "city": "Daytona Beach",
                "state": "FL",
                "zip": "32114",
                "country": "US"
            }
        }
    })
}

/// A member of store `store` with invoice `invoice`.
fn member(store: &str, invoice: &str) -> Value {
    json!({
        "product_id": "TPP-36", "invoiceNumber": invoice, "storeNumber": store,
        "enrollDate": "2024-09-15T13:08:00.000Z", "customer": {"name": "Sam Poe"}
    })
}

/// POSTs a member with `token`; answers its id.
async fn create(app: &TestApp, token: &str, body: &Value) -> String {
    let (status, created) = app.v3_post(MEMBERS, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

fn one(id: &str) -> String {
    format!("{MEMBERS}/{id}")
}

#[tokio::test]
async fn the_docs_registration_object_is_accepted_as_written_and_reads_back() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.v3_url(MEMBERS))
        .bearer_auth(v3_sandbox_token())
        .header("content-type", "application/json")
        .body(docs_registration().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, created) = json_of(res).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(location, format!("/api/v3/motor-club/registrations/{id}"));

    let (status, got) = app.v3_get(&one(id), &v3_sandbox_token()).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let mut expected = docs_registration();
    let extra = json!({"_id": id, "program_id": PROGRAM_ID, "storeNumber": ""});
    for (k, v) in extra.as_object().unwrap() {
        expected[k] = v.clone();
    }
    assert_eq!(got, expected);

    // The docs' curl example itself has a trailing comma: a 400 naming where.
    let res = app
        .client
        .post(app.v3_url(MEMBERS))
        .bearer_auth(v3_sandbox_token())
        .header("content-type", "application/json")
        .body("{\n\"customer\": {\n\"country\": \"US\",\n}\n}")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("line 4"), "{body}");

    // Motor club has no v2 face: v2 sees no registration, and the tire-protection list is empty.
    let (_, page) = app.v3_get("/tire-protection/registrations", &v3_sandbox_token()).await;
    assert_eq!(page["totalRecordCount"], 0);
}

#[tokio::test]
async fn the_customer_is_replaced_whole_by_id_or_invoice() {
    let app = spawn_app().await;
    let id = create(&app, &v3_token(), &docs_registration()).await;
    let by_invoice = format!("{MEMBERS}?invoiceNumber=001-20345");
    let (status, body) = app.v3_patch(&by_invoice, &v3_token(), &docs_new_customer()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, got) = app.v3_get(&one(&id), &v3_token()).await;
    let mut expected = docs_new_customer()["customer"].clone();
    // An empty line2 is a line2 not sent.
    expected["address"].as_object_mut().unwrap().remove("line2");
    assert_eq!(got["customer"], expected);
    assert_eq!(got["invoiceNumber"], "001-20345", "the rest is kept");
    assert!(got.get("cancelledOn").is_none());

    // By id; what the new customer leaves out is gone.
    let (status, _) = app
        .v3_patch(&one(&id), &v3_token(), &json!({"customer": {"name": "Jane Smith-Poe"}}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = app.v3_get(&one(&id), &v3_token()).await;
    assert_eq!(got["customer"], json!({"name": "Jane Smith-Poe"}));

    // A customer that breaks a rule changes nothing.
    let (status, body) = app
        .v3_patch(
            &one(&id),
            &v3_token(),
            &json!({"customer": {"name": "X", "phone": "555-1234"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["errors"][0]["field"], "customer.phone");
    let (_, got) = app.v3_get(&one(&id), &v3_token()).await;
    assert_eq!(got["customer"]["name"], "Jane Smith-Poe");
}

#[tokio::test]
async fn a_registration_is_cancelled_once() {
    let app = spawn_app().await;
    let id = create(&app, &v3_token(), &docs_registration()).await;
    let cancel = json!({"cancelledOn": "2024-09-17T10:10:00.000Z"});
    let (status, body) = app
        .v3_patch(&format!("{MEMBERS}?invoiceNumber=001-20345"), &v3_token(), &cancel)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, got) = app.v3_get(&one(&id), &v3_token()).await;
    assert_eq!(got["cancelledOn"], "2024-09-17T10:10:00.000Z");

    let again = json!({"cancelledOn": "2024-09-18T00:00:00-06:00"});
    let (status, body) = app.v3_patch(&one(&id), &v3_token(), &again).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "already_cancelled");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2024-09-17T10:10:00.000Z"),
        "{body}"
    );
    let (_, got) = app.v3_get(&one(&id), &v3_token()).await;
    assert_eq!(got["cancelledOn"], "2024-09-17T10:10:00.000Z", "unchanged");

    // The customer of a cancelled membership can still be corrected.
    let (status, _) = app.v3_patch(&one(&id), &v3_token(), &docs_new_customer()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Both at once, or neither, is a 400 that changes nothing.
    let id2 = create(&app, &v3_token(), &member("S2", "INV-2")).await;
    let both = json!({"cancelledOn": "2024-09-17T10:10:00Z", "customer": {"name": "A"}});
    for body in [both, json!({}), json!({"cancelledOn": "tomorrow"})] {
        let (status, answer) = app.v3_patch(&one(&id2), &v3_token(), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["error"]["errors"][0]["field"].is_string(), "{answer}");
    }
    let (_, got) = app.v3_get(&one(&id2), &v3_token()).await;
    assert!(got.get("cancelledOn").is_none());
    assert_eq!(got["customer"]["name"], "Sam Poe");
}

#[tokio::test]
async fn store_and_invoice_are_unique_and_an_ambiguous_invoice_is_a_conflict() {
    let app = spawn_app().await;
    let first = create(&app, &v3_token(), &member("S1", "INV-1")).await;
    let (status, body) = app.v3_post(MEMBERS, &v3_token(), &member("S1", "INV-1")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("already exists"));
    let second = create(&app, &v3_token(), &member("S2", "INV-1")).await;
    assert_ne!(first, second);

    let cancel = json!({"cancelledOn": "2024-09-17T10:10:00.000Z"});
    let (status, body) = app
        .v3_patch(&format!("{MEMBERS}?invoiceNumber=INV-1"), &v3_token(), &cancel)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(r#"not unique; use the id or storeNumber (2 registrations have it, at storeNumber "S1", "S2")"#),
        "{body}"
    );
    let (status, _) = app
        .v3_patch(
            &format!("{MEMBERS}?invoiceNumber=INV-1&storeNumber=S2"),
            &v3_token(),
            &cancel,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, a) = app.v3_get(&one(&first), &v3_token()).await;
    let (_, b) = app.v3_get(&one(&second), &v3_token()).await;
    assert!(a.get("cancelledOn").is_none());
    assert!(b["cancelledOn"].is_string());

    for target in [
        format!("{MEMBERS}?invoiceNumber=NOPE"),
        format!("{MEMBERS}?invoiceNumber=INV-1&storeNumber=S3"),
        one("0123456789abcdef01234567"),
    ] {
        let (status, body) = app.v3_patch(&target, &v3_token(), &cancel).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{target}: {body}");
    }
    let (status, body) = app.v3_patch(MEMBERS, &v3_token(), &cancel).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["errors"][0]["field"], "invoiceNumber");
}

#[tokio::test]
async fn pages_list_oldest_first_with_filters() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&app, &v3_token(), &member("S1", &format!("INV-{i}"))).await);
    }
    create(&app, &v3_token(), &member("S2", "INV-0")).await;
    let (status, page) = app.v3_get(&format!("{MEMBERS}?page=2&pageSize=2"), &v3_token()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalRecordCount"], 6);
    assert_eq!(page["totalPages"], 3);
    assert_eq!((page["page"].clone(), page["pageSize"].clone()), (json!(2), json!(2)));
    let got: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[3].as_str()]);

    let (_, page) = app.v3_get(&format!("{MEMBERS}?invoiceNumber=INV-0"), &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 2);
    let (_, page) = app
        .v3_get(&format!("{MEMBERS}?invoiceNumber=INV-0&storeNumber=S2"), &v3_token())
        .await;
    assert_eq!(page["totalRecordCount"], 1);
    let (_, page) = app.v3_get(&format!("{MEMBERS}?page=9"), &v3_token()).await;
    assert_eq!(page["results"], json!([]));
    assert_eq!(page["totalRecordCount"], 6);
    for bad in ["pageSize=0", "pageSize=1001", "page=0", "page=x"] {
        let (status, _) = app.v3_get(&format!("{MEMBERS}?{bad}"), &v3_token()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn every_invalid_field_is_listed_and_nothing_is_stored() {
    let app = spawn_app().await;
    let body = json!({
        "product_id": "NOT-OURS",
        "invoiceNumber": "",
        "storeNumber": "S".repeat(26),
        "enrollDate": "2024-09-15",
        "customer": {
            "phone": "(303) 457-9876",
            "email": "john.doe",
            "address": {"line1": "x".repeat(101), "country": "USA"}
        }
    });
    let (status, answer) = app.v3_post(MEMBERS, &v3_token(), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let fields: Vec<&str> = answer["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "product_id",
            "invoiceNumber",
            "storeNumber",
            "enrollDate",
            "customer.name",
            "customer.phone",
            "customer.email",
            "customer.address.line1",
            "customer.address.country",
        ]
    );
    assert_eq!(answer["error"]["message"], "the registration has 9 invalid fields");
    let (status, answer) = app
        .v3_post(
            MEMBERS,
            &v3_token(),
            &json!({"customer": {"name": "A", "address": {"country": "us"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let country = answer["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "customer.address.country")
        .unwrap();
    assert!(
        country["message"].as_str().unwrap().contains("in capitals: US"),
        "{country}"
    );

    // Not JSON by its content type: 415.
    let res = app
        .client
        .post(app.v3_url(MEMBERS))
        .bearer_auth(v3_token())
        .header("content-type", "text/plain")
        .body(docs_registration().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (_, page) = app.v3_get(MEMBERS, &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 0);
}

#[tokio::test]
async fn tenants_and_partners_see_only_their_own() {
    let app = spawn_app().await;
    let live = create(&app, &v3_token(), &docs_registration()).await;
    // The same store and invoice in the sandbox and at another partner are other registrations.
    let sandbox = create(&app, &v3_sandbox_token(), &docs_registration()).await;
    let mut theirs = docs_registration();
    theirs["product_id"] = json!("ANYTHING");
    let other = create(&app, &other_v3_token(), &theirs).await;
    assert!(live != sandbox && sandbox != other);

    let cancel = json!({"cancelledOn": "2024-09-17T10:10:00.000Z"});
    let hint = "; your live data has this id (a token for the live audience reads it)";
    for (token, said) in [(v3_sandbox_token(), hint), (other_v3_token(), "")] {
        let (status, body) = app.v3_get(&one(&live), &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["error"]["message"],
            format!("no registration with this id (for this partner and tenant){said}")
        );
        let (status, _) = app.v3_patch(&one(&live), &token, &cancel).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, page) = app.v3_get(MEMBERS, &token).await;
        assert_eq!(page["totalRecordCount"], 1);
        assert_ne!(page["results"][0]["_id"], json!(live));
    }
    let (status, _) = app
        .v3_patch(
            &format!("{MEMBERS}?invoiceNumber=001-20345"),
            &v3_sandbox_token(),
            &cancel,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = app.v3_get(&one(&live), &v3_token()).await;
    assert!(got.get("cancelledOn").is_none(), "live is untouched");
    let (_, got) = app.v3_get(&one(&sandbox), &v3_sandbox_token()).await;
    assert!(got["cancelledOn"].is_string());
}

#[tokio::test]
async fn every_route_needs_a_v3_token_and_nothing_is_written_without_one() {
    let app = spawn_app().await;
    let id = create(&app, &v3_token(), &member("S1", "INV-1")).await;
    for bad in ["", "not-a-jwt", &token()] {
        let (status, body) = app.v3_post(MEMBERS, bad, &member("S1", "INV-2")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["error"]["message"].is_string());
        let (status, _) = app
            .v3_patch(&one(&id), bad, &json!({"cancelledOn": "2024-09-17T10:10:00Z"}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.v3_get(&one(&id), bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.v3_get(MEMBERS, bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, page) = app.v3_get(MEMBERS, &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 1);
    assert!(page["results"][0].get("cancelledOn").is_none());
    // A method the resource does not take: 405 with Allow.
    let res = app.client.delete(app.v3_url(&one(&id))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, HEAD, PATCH");
}
