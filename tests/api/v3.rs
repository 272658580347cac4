//! The v3 resource API (tire protection) over the same store as v2: its routes, its ES256
//! authentication, its validation, pages, and the two faces of one registration.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const REGISTRATIONS: &str = "/tire-protection/registrations";

/// The docs' "Registration object" of the POST example, exactly as written.
fn docs_registration() -> Value {
    let tire = json!({"make": "BRIDGESTONE", "model": "TURANZA ER33", "size": "235/45R18", "retailPrice": 334.31});
    json!({
        "product_id": "YOUR-PRODUCT-ID",
        "invoiceNumber": "001-20345",
        "enrollDate": "2021-08-01T13:08:00.000Z",
        "customer": {"name": "John Doe", "email": "john.doe@example.com"},
        "vehicle": {"year": 2021, "make": "Tesla", "model": "Model 3"},
        "tires": [tire, tire, tire, tire]
    })
}

/// A valid registration in store `store`, invoice `invoice`, enrolled today, with `tires` tires.
fn new_registration(store: &str, invoice: &str, tires: usize) -> Value {
    let tire = json!({"make": "MICHELIN", "model": "DEFENDER", "size": "225/65R17", "retailPrice": 199.99});
    json!({
        "product_id": "TPP-36", "invoiceNumber": invoice, "storeNumber": store,
        "enrollDate": chrono::Utc::now().format("%Y-%m-%dT00:00:00.000Z").to_string(),
        "customer": {"name": "Jane Roe"},
        "tires": vec![tire; tires]
    })
}

/// POSTs a registration with tirecompany's live token; answers its id.
async fn create(app: &TestApp, body: &Value) -> String {
    let (status, created) = app.v3_post(REGISTRATIONS, &v3_token(), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_docs_registration_object_is_accepted_as_written_and_reads_back() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.v3_url(REGISTRATIONS))
        .bearer_auth(v3_token())
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
    assert_eq!(location, format!("/api/v3/tire-protection/registrations/{id}"));

    let (status, got) = app.v3_get(&format!("{REGISTRATIONS}/{id}"), &v3_token()).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let sent = docs_registration();
    for field in [
        "product_id",
        "invoiceNumber",
        "enrollDate",
        "customer",
        "vehicle",
        "tires",
    ] {
        assert_eq!(got[field], sent[field], "{field}");
    }
    assert_eq!(got["_id"], id);
    assert_eq!(got["program_id"], PROGRAM_ID);
    assert_eq!(got["storeNumber"], "");
    assert_eq!(got["claims"], json!([]));
    assert!(got.get("cancelledOn").is_none());

    let (status, page) = app.v3_get(REGISTRATIONS, &v3_token()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalRecordCount"], 1);
    assert_eq!(page["results"][0]["_id"], id);
    assert!(
        page["results"][0].get("claims").is_none(),
        "claims are in GET by id only"
    );
}

#[tokio::test]
async fn metadata_is_registrationstatus_in_v3_words() {
    let app = spawn_app().await;
    let id = create(&app, &new_registration("S1", "M-1", 4)).await;
    let (status, meta) = app.v3_get(&format!("{REGISTRATIONS}/{id}/metadata"), &v3_token()).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["claimedTiresCount"], 0);
    assert_eq!(meta["availableTiresCount"], 4);
    assert_eq!(meta["isActive"], true);
    assert_eq!(meta["hasTiresToClaim"], true);
    assert_eq!(meta["hasTiresToReplace"], true);
    // The same registration's status through v2, the same numbers.
    let status = app.status_of(COMPANY, "S1", "M-1").await;
    assert_eq!(status["TiresLeft"], 4);
    assert_eq!(status["WarrantyStatus"], 1);
    let expire = status["ExpireDate"].as_str().unwrap();
    let expiration = meta["expirationDate"].as_str().unwrap();
    assert_eq!(&expiration[..19], &expire[..19], "{expiration} / {expire}");
    assert!(expiration.ends_with(".000Z"), "{expiration}");

    // An expired one (the docs' own dates) is not active and has no tires to replace.
    let old = create(&app, &docs_registration()).await;
    let (_, meta) = app
        .v3_get(&format!("{REGISTRATIONS}/{old}/metadata"), &v3_token())
        .await;
    assert_eq!(meta["isActive"], false);
    assert_eq!(meta["hasTiresToClaim"], true);
    assert_eq!(meta["hasTiresToReplace"], false);
    assert_eq!(meta["expirationDate"], "2024-08-01T13:08:00.000Z");
}

#[tokio::test]
async fn a_v3_registration_is_a_v2_registration_and_v2_claims_show_under_it() {
    let app = spawn_app().await;
    let id = create(&app, &new_registration("S9", "INV-9", 4)).await;
    let (status, got) = app
        .get(COMPANY, "rec=registrations&ShopID=S9&InvoiceNumber=INV-9")
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let r = &got;
    assert_eq!(r["CustomerID"], "Jane Roe");
    assert_eq!(r["TiresCovered"], 4);
    assert_eq!(r["TireBrand"], "MICHELIN");
    assert_eq!(r["TirePrice"], 199.99);
    assert_eq!(r["EmployeeID"], "");
    assert_eq!(r["TPPPrice"], 0);
    assert_eq!(r["CommercialVehicle"], "false");

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (status, body) = app
        .post(COMPANY, &json!({"Claims": [claim("S9", "INV-9", "R-1", 1, &today)]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = app.v3_get(&format!("{REGISTRATIONS}/{id}"), &v3_token()).await;
    let claims = got["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 1, "{got}");
    assert_eq!(claims[0]["tireClaimCount"], 1);
    assert_eq!(claims[0]["repairStoreNumber"], "S9");
    assert_eq!(claims[0]["repairInvoiceNumber"], "R-1");
    assert_eq!(claims[0]["creditAmount"], 64.04);
    assert!(claims[0]["claimDate"].as_str().unwrap().ends_with("T00:00:00.000Z"));
    let (_, meta) = app.v3_get(&format!("{REGISTRATIONS}/{id}/metadata"), &v3_token()).await;
    assert_eq!(meta["claimedTiresCount"], 1);
    assert_eq!(meta["availableTiresCount"], 3);
}

#[tokio::test]
async fn a_v2_registration_reads_in_v3_with_an_id_and_tires_covered_tires() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(COMPANY, &json!({"Registrations": [registration("V2", "INV-2")]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, page) = app
        .v3_get(&format!("{REGISTRATIONS}?invoiceNumber=INV-2"), &v3_token())
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalRecordCount"], 1);
    let r = &page["results"][0];
    assert_eq!(r["_id"].as_str().unwrap().len(), 24);
    assert_eq!(r["storeNumber"], "V2");
    assert_eq!(r["customer"], json!({"name": "C1"}));
    assert_eq!(r["vehicle"], json!({"year": 2019, "make": "FORD", "model": "F150"}));
    let tire = json!({"make": "SUM", "model": "HTR A/S P02", "size": "2356018", "retailPrice": 150});
    assert_eq!(r["tires"], json!([tire, tire, tire, tire]));
    assert!(r.get("product_id").is_none(), "v2 has no product_id");
    let id = r["_id"].as_str().unwrap();
    let (status, _) = app.v3_get(&format!("{REGISTRATIONS}/{id}"), &v3_token()).await;
    assert_eq!(status, StatusCode::OK);

    // A v2 resend that changes the tires: v3 reads what v2 says now.
    let id = create(&app, &new_registration("V2", "INV-3", 2)).await;
    let resent = with(
        registration("V2", "INV-3"),
        json!({"TiresCovered": 3, "TireBrand": "GOODYEAR"}),
    );
    let (status, _) = app.post(COMPANY, &json!({"Registrations": [resent]})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, got) = app.v3_get(&format!("{REGISTRATIONS}/{id}"), &v3_token()).await;
    let tires = got["tires"].as_array().unwrap();
    assert_eq!(tires.len(), 3);
    assert!(tires.iter().all(|t| t["make"] == "GOODYEAR"), "{got}");
    assert_eq!(got["_id"], id, "the id stays");
}

#[tokio::test]
async fn a_store_and_invoice_the_tenant_has_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    create(&app, &new_registration("S1", "DUP", 4)).await;
    let again = with(
        new_registration("S1", "DUP", 2),
        json!({"customer": {"name": "Someone Else"}}),
    );
    let (status, body) = app.v3_post(REGISTRATIONS, &v3_token(), &again).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    let status = app.status_of(COMPANY, "S1", "DUP").await;
    assert_eq!(status["TiresCovered"], 4, "the stored registration is as it was");
    // A v2 registration's key too.
    app.post(COMPANY, &json!({"Registrations": [registration("S2", "V2DUP")]}))
        .await;
    let (status, _) = app
        .v3_post(REGISTRATIONS, &v3_token(), &new_registration("S2", "V2DUP", 1))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The same invoice in another store is another registration.
    create(&app, &new_registration("S3", "DUP", 1)).await;
}

#[tokio::test]
async fn every_token_v3_does_not_accept_is_a_401_with_its_reason_and_nothing_is_written() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let key = "tirecompany.key.pem";
    let claims = |changes: Value| with(v3_claims(V3_ISSUER, V3_AUDIENCE), changes);
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no header", None, "missing Authorization header"),
        (
            "v2's HS256 token",
            Some(token()),
            "accepts only ES256 (an HS256 token, signed with your secret, is v2's; v3 takes one signed with your private key)",
        ),
        (
            "another key",
            Some(sign_v3("stranger.key.pem", v3_claims(V3_ISSUER, V3_AUDIENCE))),
            "signature",
        ),
        (
            "an unknown issuer",
            Some(sign_v3(key, claims(json!({"iss": "nobody"})))),
            "no partner has the v3 issuer",
        ),
        (
            "no iss",
            Some(sign_v3(key, claims(json!({"iss": null})))),
            "no iss claim",
        ),
        (
            "another partner's issuer",
            Some(sign_v3(key, claims(json!({"iss": OTHER_V3_ISSUER})))),
            "signature",
        ),
        (
            "a wrong audience",
            Some(sign_v3(key, claims(json!({"aud": "https://elsewhere/api/v3"})))),
            "aud",
        ),
        (
            "no aud",
            Some(sign_v3(key, claims(json!({"aud": null})))),
            "no aud claim",
        ),
        (
            "both audiences",
            Some(sign_v3(key, claims(json!({"aud": [V3_AUDIENCE, V3_SANDBOX]})))),
            "both",
        ),
        (
            "no exp",
            Some(sign_v3(key, claims(json!({"exp": null})))),
            "no exp claim",
        ),
        (
            "no iat",
            Some(sign_v3(key, claims(json!({"iat": null})))),
            "no iat claim",
        ),
        (
            "expired",
            Some(sign_v3(key, claims(json!({"iat": now - 7200, "exp": now - 3600})))),
            "expired",
        ),
        (
            "not yet valid",
            Some(sign_v3(key, claims(json!({"nbf": now + 3600})))),
            "not valid yet",
        ),
        (
            "living over 24 hours",
            Some(sign_v3(key, claims(json!({"exp": now + 25 * 3600})))),
            "24 hours",
        ),
        ("not a JWT", Some("not-a-jwt".to_owned()), "not a well-formed JWT"),
        (
            "issued ten years ahead (iat = exp)",
            Some(sign_v3(
                key,
                claims(json!({"iat": now + 315_360_000, "exp": now + 315_360_000})),
            )),
            "issued in the future",
        ),
        (
            "an EXP in the past",
            Some(sign_v3(key, claims(json!({"exp": null, "EXP": now - 3600})))),
            "expired",
        ),
        (
            "an NBF ahead",
            Some(sign_v3(key, claims(json!({"NBF": now + 3600})))),
            "not valid yet",
        ),
        (
            "exp spelled twice",
            Some(sign_v3(key, claims(json!({"Exp": now + 600})))),
            "twice",
        ),
        (
            "a crit header",
            Some(sign_v3_with_crit(key, v3_claims(V3_ISSUER, V3_AUDIENCE))),
            "critical",
        ),
    ];
    for (case, token, reason) in cases {
        let mut req = app
            .client
            .post(app.v3_url(REGISTRATIONS))
            .header("content-type", "application/json")
            .body(new_registration("S1", case, 1).to_string());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let (status, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{case}: {message}");
    }
    let (_, page) = app.v3_get(REGISTRATIONS, &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 0, "nothing was written");
    // And v2 does not take v3's tokens.
    let res = app
        .get_raw(COMPANY, &v3_token(), "rec=registrationstatus&ShopID=S1&InvoiceNumber=1")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains(
        "only HS256 is accepted (an ES256 token is the v3 API's, under /api/v3; v2 takes one signed with your partner secret)"
    ));
}

#[tokio::test]
async fn a_body_with_bad_fields_lists_every_error_with_its_path() {
    let app = spawn_app().await;
    let tire = |size: Value| json!({"make": "M", "model": "N", "size": size, "retailPrice": 10});
    let body = json!({
        "product_id": "NOT-MINE", "invoiceNumber": "", "storeNumber": "x".repeat(26),
        "enrollDate": "2021-08-01 13:08", "customer": {"name": "n".repeat(101), "email": "nope"},
        "vehicle": {"year": "2021"},
        "tires": [tire(json!("1")), {"make": "M", "model": "N", "size": "2", "retailPrice": -1}, tire(Value::Null)],
        "somethingElse": true
    });
    let (status, got) = app.v3_post(REGISTRATIONS, &v3_token(), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    let errors: Vec<(&str, &str)> = got["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("product_id", "not_allowed"),
            ("invoiceNumber", "required"),
            ("storeNumber", "too_long"),
            ("enrollDate", "invalid_date"),
            ("customer.name", "too_long"),
            ("customer.email", "invalid_email"),
            ("vehicle.year", "invalid_type"),
            ("tires[1].retailPrice", "negative"),
            ("tires[2].size", "required"),
        ]
    );
    assert_eq!(got["error"]["message"], "the registration has 9 invalid fields");
    assert_eq!(got["error"]["errors"][8]["message"], "tires[2].size is required");

    for (tires, code) in [
        (json!([]), "invalid_count"),
        (json!(vec![tire(json!("1")); 7]), "invalid_count"),
    ] {
        let (status, got) = app
            .v3_post(
                REGISTRATIONS,
                &v3_token(),
                &with(new_registration("S", "I", 1), json!({"tires": tires})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(got["error"]["errors"][0]["field"], "tires");
        assert_eq!(got["error"]["errors"][0]["code"], code);
    }

    // v2's spelling of a v3 field (or v3's mix of snake and camel case got wrong): asked about.
    let mut body = new_registration("S", "I", 1);
    let product = body.as_object_mut().unwrap().remove("product_id").unwrap();
    body["productId"] = product;
    let (status, got) = app.v3_post(REGISTRATIONS, &v3_token(), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        got["error"]["errors"][0]["message"],
        r#"product_id is required ("productId" was sent: is it product_id?)"#
    );

    // Not JSON: the line and column; not application/json: 415.
    let res = app
        .client
        .post(app.v3_url(REGISTRATIONS))
        .bearer_auth(v3_token())
        .header("content-type", "application/json")
        .body("{\n\"invoiceNumber\": \"1\",\n}")
        .send()
        .await
        .unwrap();
    let (status, got) = json_of(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        got["error"]["message"].as_str().unwrap().contains("line 3 column 1"),
        "{got}"
    );
    let res = app
        .client
        .post(app.v3_url(REGISTRATIONS))
        .bearer_auth(v3_token())
        .header("content-type", "text/plain")
        .body(new_registration("S", "I", 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, page) = app.v3_get(REGISTRATIONS, &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 0, "nothing was written");
}

#[tokio::test]
async fn a_key_sent_twice_with_different_values_is_refused_with_the_other_errors() {
    let app = spawn_app().await;
    let send = |method: reqwest::Method, path: &str, body: String| {
        app.client
            .request(method, app.v3_url(path))
            .bearer_auth(v3_token())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // serde_json would keep "I2" and the second tire's size 5 silently.
    let body = new_registration("S", "I1", 2)
        .to_string()
        .replacen(
            r#""invoiceNumber":"I1""#,
            r#""invoiceNumber":"I1","invoiceNumber":"I2""#,
            1,
        )
        .replacen(r#""size":"#, r#""size":5,"size":"#, 1);
    assert!(
        body.contains(r#""invoiceNumber":"I2""#) && body.contains(r#""size":5,"#),
        "{body}"
    );
    let (status, got) = json_of(send(reqwest::Method::POST, REGISTRATIONS, body).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    assert_eq!(got["error"]["message"], "the registration has 2 invalid fields");
    let errors = got["error"]["errors"].as_array().unwrap();
    assert_eq!(
        errors[0],
        json!({"field": "invoiceNumber", "code": "ambiguous",
               "message": "invoiceNumber was sent twice with different values (\"I1\", then \"I2\"); send it once"})
    );
    // The last size (a text) is what the other fields were read with.
    assert_eq!(errors[1]["field"], "tires[0].size");
    assert_eq!(errors[1]["code"], "ambiguous");
    let (_, page) = app.v3_get(REGISTRATIONS, &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 0, "nothing was written");

    // The same key sent twice with one value is no error; and a PATCH is read the same way.
    let id = create(&app, &new_registration("S", "I1", 1)).await;
    let cancel = format!(
        r#"{{"cancelledOn": "{0}", "cancelledOn": "2020-01-01T00:00:00Z"}}"#,
        today()
    );
    let (status, got) = json_of(
        send(reqwest::Method::PATCH, &format!("{REGISTRATIONS}/{id}"), cancel)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    assert_eq!(got["error"]["errors"][0]["field"], "cancelledOn");
    let cancel = format!(r#"{{"cancelledOn": "{0}", "cancelledOn": "{0}"}}"#, today());
    let res = send(reqwest::Method::PATCH, &format!("{REGISTRATIONS}/{id}"), cancel)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn pages_are_oldest_first_and_filtered_exactly() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (store, invoice) in [("A", "1"), ("B", "1"), ("A", "2"), ("C", "3"), ("A", "10")] {
        ids.push(create(&app, &new_registration(store, invoice, 1)).await);
    }
    let token = v3_token();
    let page = |query: &str| {
        let (url, token) = (format!("{REGISTRATIONS}?{query}"), token.clone());
        let app = &app;
        async move { app.v3_get(&url, &token).await }
    };
    let listed = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, first) = page("pageSize=2").await;
    assert_eq!(listed(&first), ids[..2]);
    assert_eq!(
        (
            &first["totalRecordCount"],
            &first["page"],
            &first["pageSize"],
            &first["totalPages"]
        ),
        (&json!(5), &json!(1), &json!(2), &json!(3))
    );
    let (_, last) = page("pageSize=2&page=3").await;
    assert_eq!(listed(&last), ids[4..]);
    let (status, beyond) = page("pageSize=2&page=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&beyond), Vec::<String>::new());
    assert_eq!(beyond["totalPages"], 3);
    let (_, all) = page("pageSize=1000").await;
    assert_eq!(listed(&all), ids);
    let (_, by_invoice) = page("invoiceNumber=1").await;
    assert_eq!(listed(&by_invoice), [ids[0].clone(), ids[1].clone()]);
    let (_, by_store) = page("storeNumber=A").await;
    assert_eq!(listed(&by_store), [ids[0].clone(), ids[2].clone(), ids[4].clone()]);
    let (_, both) = page("storeNumber=A&invoiceNumber=1").await;
    assert_eq!(listed(&both), [ids[0].clone()]);
    let (_, none) = page("invoiceNumber=4").await;
    assert_eq!(
        (none["totalRecordCount"].clone(), none["totalPages"].clone()),
        (json!(0), json!(0))
    );
    for bad in [
        "pageSize=0",
        "pageSize=1001",
        "page=0",
        "page=-1",
        "page=x",
        "pageSize=1.5",
    ] {
        let (status, got) = page(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {got}");
        let field = bad.split('=').next().unwrap();
        assert_eq!(got["error"]["errors"][0]["field"], field, "{bad}");
    }
}

#[tokio::test]
async fn a_patch_by_invoice_that_finds_nothing_says_where_the_partner_has_it() {
    let app = spawn_app().await;
    create(&app, &new_registration("0056", "I-1", 2)).await;
    create(&app, &new_registration("0057", "I-1", 2)).await;
    let (status, _) = app
        .v3_post(REGISTRATIONS, &v3_sandbox_token(), &new_registration("0056", "T-1", 2))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let cancel = json!({"cancelledOn": today()});
    let by = |query: &str| format!("{REGISTRATIONS}?{query}");
    let none = "no registration with this invoiceNumber and storeNumber (for this partner and tenant)";
    for (token, query, said) in [
        // A storeNumber sent without its leading zeros: the stores that have the invoice.
        (
            v3_token(),
            "invoiceNumber=I-1&storeNumber=56",
            format!(r#"{none}; invoiceNumber "I-1" is registered at storeNumber "0056", "0057""#),
        ),
        // A registration made while testing, cancelled with a live token.
        (
            v3_token(),
            "invoiceNumber=T-1",
            "no registration with this invoiceNumber (for this partner and tenant); your sandbox has this \
             registration (a token for the sandbox audience reads it)"
                .to_owned(),
        ),
        (
            v3_token(),
            "invoiceNumber=T-1&storeNumber=0056",
            format!("{none}; your sandbox has this registration (a token for the sandbox audience reads it)"),
        ),
        // Nothing anywhere: nothing more to say.
        (
            v3_token(),
            "invoiceNumber=NONE",
            "no registration with this invoiceNumber (for this partner and tenant)".to_owned(),
        ),
        // Another partner's invoice is never mentioned.
        (other_v3_token(), "invoiceNumber=I-1&storeNumber=56", none.to_owned()),
        (
            other_v3_token(),
            "invoiceNumber=T-1",
            "no registration with this invoiceNumber (for this partner and tenant)".to_owned(),
        ),
    ] {
        let (status, body) = app.v3_patch(&by(query), &token, &cancel).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{query}: {body}");
        assert_eq!(body["error"]["message"], said, "{query}");
    }
    // Past five stores, the first five and "and others".
    for store in ["0058", "0059", "0060", "0061"] {
        create(&app, &new_registration(store, "I-1", 2)).await;
    }
    let (_, body) = app
        .v3_patch(&by("invoiceNumber=I-1&storeNumber=56"), &v3_token(), &cancel)
        .await;
    assert_eq!(
        body["error"]["message"],
        format!(
            r#"{none}; invoiceNumber "I-1" is registered at storeNumber "0056", "0057", "0058", "0059", "0060" and others"#
        )
    );
    // Nothing was cancelled by any of it.
    let (_, page) = app.v3_get(&by("invoiceNumber=I-1"), &v3_token()).await;
    assert_eq!(page["totalRecordCount"], 6);
    assert!(
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("cancelledOn").is_none())
    );
}

#[tokio::test]
async fn the_sandbox_and_other_partners_never_meet() {
    let app = spawn_app().await;
    let live = create(&app, &new_registration("S1", "L-1", 1)).await;
    let (status, created) = app
        .v3_post(REGISTRATIONS, &v3_sandbox_token(), &new_registration("S1", "T-1", 1))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sandbox = created["id"].as_str().unwrap().to_owned();

    // The sandbox is v2's test tenant.
    let (status, _) = app
        .get("tirecompany_test", "rec=registrations&ShopID=S1&InvoiceNumber=T-1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=T-1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Each 404 says which audience reads the id: a sandbox id asked for with a live token is the
    // mistake of an integrator who has just switched.
    let hints = [
        "; your sandbox has this id (a token for the sandbox audience reads it)",
        "; your live data has this id (a token for the live audience reads it)",
    ];
    for ((token, mine, theirs), hint) in [(v3_token(), &live, &sandbox), (v3_sandbox_token(), &sandbox, &live)]
        .into_iter()
        .zip(hints)
    {
        let (_, page) = app.v3_get(REGISTRATIONS, &token).await;
        assert_eq!(page["totalRecordCount"], 1);
        assert_eq!(&page["results"][0]["_id"], mine);
        let said = format!("no registration with this id (for this partner and tenant){hint}");
        let (status, body) = app.v3_get(&format!("{REGISTRATIONS}/{theirs}"), &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["message"], said);
        let (status, body) = app.v3_get(&format!("{REGISTRATIONS}/{theirs}/metadata"), &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["message"], said);
        let cancel = json!({"cancelledOn": today()});
        let (status, body) = app
            .v3_patch(&format!("{REGISTRATIONS}/{theirs}"), &token, &cancel)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["message"], said);
    }
    // Another partner sees none of them, even by id, and is not told they exist.
    let (_, page) = app.v3_get(REGISTRATIONS, &other_v3_token()).await;
    assert_eq!(page["totalRecordCount"], 0);
    let (status, body) = app.v3_get(&format!("{REGISTRATIONS}/{live}"), &other_v3_token()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["error"]["message"],
        "no registration with this id (for this partner and tenant)"
    );
    // An id of no registration, or not an id at all.
    for id in ["ffffffffffffffffffffffff", "not-an-id"] {
        let (status, _) = app.v3_get(&format!("{REGISTRATIONS}/{id}"), &v3_token()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // othercompany has no product list: any product_id goes.
    let (status, _) = app
        .v3_post(
            REGISTRATIONS,
            &other_v3_token(),
            &with(new_registration("S1", "L-1", 1), json!({"product_id": "ANYTHING"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn every_registration_v2_writes_gets_an_id_of_its_own() {
    // Every registration has an id, whichever API wrote it, and no two share one.
    let app = spawn_app().await;
    let registrations: Vec<Value> = (0..50).map(|i| registration("S", &format!("I{i}"))).collect();
    app.post(COMPANY, &json!({"Registrations": registrations})).await;
    let (_, page) = app.v3_get(&format!("{REGISTRATIONS}?pageSize=1000"), &v3_token()).await;
    let ids: std::collections::BTreeSet<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 50);
    assert!(
        ids.iter()
            .all(|id| id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()))
    );
}

/// Today, as v3 writes a date.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%dT12:00:00.000Z").to_string()
}

#[tokio::test]
async fn a_v3_cancel_is_a_v2_cancellation_of_the_tires_left_and_happens_once() {
    let app = spawn_app().await;
    let id = create(&app, &new_registration("S1", "C-1", 4)).await;
    let today_v2 = chrono::Utc::now().format("%Y-%m-%d").to_string();
    app.post(COMPANY, &json!({"Claims": [claim("S1", "C-1", "R-1", 1, &today_v2)]}))
        .await;
    let one = format!("{REGISTRATIONS}/{id}");
    let (status, body) = app.v3_patch(&one, &v3_token(), &json!({"cancelledOn": today()})).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));

    let (_, got) = app.v3_get(&one, &v3_token()).await;
    assert_eq!(got["cancelledOn"], today());
    let (status, stored) = app.get(COMPANY, "rec=cancellations&ShopID=S1&InvoiceNumber=C-1").await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["TireCancelCount"], 3, "the tires left");
    assert_eq!(stored["CancelShopID"], "S1");
    assert_eq!(stored["CancelInvoiceNumber"], "C-1");
    let status = app.status_of(COMPANY, "S1", "C-1").await;
    assert_eq!(
        (status["TiresLeft"].clone(), status["WarrantyStatus"].clone()),
        (json!(0), json!(2))
    );
    let (_, meta) = app.v3_get(&format!("{one}/metadata"), &v3_token()).await;
    assert_eq!(
        (meta["isActive"].clone(), meta["availableTiresCount"].clone()),
        (json!(false), json!(0))
    );

    // Once: a second cancel is 409 naming the rule, and changes nothing.
    let (status, body) = app.v3_patch(&one, &v3_token(), &json!({"cancelledOn": today()})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_cancelled");
    let (_, stored) = app.get(COMPANY, "rec=cancellations&ShopID=S1&InvoiceNumber=C-1").await;
    assert_eq!(stored["TireCancelCount"], 3);

    // A v2 registration is cancellable through v3, and one v2 cancelled is cancelled for v3.
    let regs = json!({"Registrations": [registration("S2", "V2-1"), registration("S2", "V2-2")]});
    app.post(COMPANY, &regs).await;
    let cancel_v2 = json!({"Cancellations": [cancellation("S2", "V2-2", "X-1", 1, &today_v2)]});
    app.post(COMPANY, &cancel_v2).await;
    let (status, body) = app
        .v3_patch(
            &format!("{REGISTRATIONS}?invoiceNumber=V2-1"),
            &v3_token(),
            &json!({"cancelledOn": today()}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, c) = app.get(COMPANY, "rec=cancellations&ShopID=S2&InvoiceNumber=V2-1").await;
    assert_eq!(c["TireCancelCount"], 4);
    let (status, body) = app
        .v3_patch(
            &format!("{REGISTRATIONS}?invoiceNumber=V2-2"),
            &v3_token(),
            &json!({"cancelledOn": today()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_cancelled");
}

#[tokio::test]
async fn a_cancel_the_rules_refuse_is_a_409_naming_the_rule() {
    let app = spawn_app().await;
    // Expired at cancelledOn: the docs' registration, enrolled in 2021 on a 36-month plan.
    let old = create(&app, &docs_registration()).await;
    let (status, body) = app
        .v3_patch(
            &format!("{REGISTRATIONS}/{old}"),
            &v3_token(),
            &json!({"cancelledOn": today()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "registration_expired");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("cancelledOn"),
        "{body}"
    );
    // Within the plan it is cancellable (the docs' own cancelledOn).
    let (status, _) = app
        .v3_patch(
            &format!("{REGISTRATIONS}/{old}"),
            &v3_token(),
            &json!({"cancelledOn": "2021-08-03T10:10:00.000Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // No tires left: every tire claimed through v2.
    let id = create(&app, &new_registration("S1", "ALL", 2)).await;
    let today_v2 = chrono::Utc::now().format("%Y-%m-%d").to_string();
    app.post(COMPANY, &json!({"Claims": [claim("S1", "ALL", "R", 2, &today_v2)]}))
        .await;
    let (status, body) = app
        .v3_patch(
            &format!("{REGISTRATIONS}/{id}"),
            &v3_token(),
            &json!({"cancelledOn": today()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "no_tires_left");
    let (status, _) = app.get(COMPANY, "rec=cancellations&ShopID=S1&InvoiceNumber=ALL").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing written");
}

#[tokio::test]
async fn a_cancel_names_one_registration_and_a_valid_date() {
    let app = spawn_app().await;
    let a = create(&app, &new_registration("A", "SAME", 1)).await;
    create(&app, &new_registration("B", "SAME", 1)).await;
    let cancel = json!({"cancelledOn": today()});
    let (status, body) = app
        .v3_patch(&format!("{REGISTRATIONS}?invoiceNumber=SAME"), &v3_token(), &cancel)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"]["message"],
        r#"invoiceNumber "SAME" is not unique; use the id or storeNumber (2 registrations have it, at storeNumber "A", "B")"#
    );
    let (status, _) = app
        .v3_patch(
            &format!("{REGISTRATIONS}?invoiceNumber=SAME&storeNumber=A"),
            &v3_token(),
            &cancel,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = app.v3_get(&format!("{REGISTRATIONS}/{a}"), &v3_token()).await;
    assert!(got["cancelledOn"].is_string());

    for (path, body, expected, field) in [
        (
            format!("{REGISTRATIONS}?invoiceNumber=NONE"),
            cancel.clone(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            format!("{REGISTRATIONS}/ffffffffffffffffffffffff"),
            cancel.clone(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            REGISTRATIONS.to_owned(),
            cancel.clone(),
            StatusCode::BAD_REQUEST,
            Some("invoiceNumber"),
        ),
        (
            format!("{REGISTRATIONS}/{a}"),
            json!({}),
            StatusCode::BAD_REQUEST,
            Some("cancelledOn"),
        ),
        (
            format!("{REGISTRATIONS}/{a}"),
            json!({"cancelledOn": "yesterday"}),
            StatusCode::BAD_REQUEST,
            Some("cancelledOn"),
        ),
    ] {
        let (status, got) = app.v3_patch(&path, &v3_token(), &body).await;
        assert_eq!(status, expected, "{path} {body}: {got}");
        if let Some(field) = field {
            assert_eq!(got["error"]["errors"][0]["field"], field, "{got}");
        }
    }
    // Another tenant's registration is not there; nor is anything without a JSON body.
    let (status, _) = app
        .v3_patch(&format!("{REGISTRATIONS}/{a}"), &v3_sandbox_token(), &cancel)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .client
        .patch(app.v3_url(&format!("{REGISTRATIONS}/{a}")))
        .bearer_auth(v3_token())
        .body(cancel.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// A partner rotating its v3 key: the token's kid picks the key; without one each live key is
/// tried; a retired key, an unknown kid and a key the partner never had are refused by name.
#[tokio::test]
async fn during_a_key_rotation_the_kid_picks_the_key_and_a_retired_one_is_refused_by_name() {
    let app = spawn_app().await;
    let claims = v3_claims(ROTATING_V3_ISSUER, V3_SANDBOX);
    let list = |token: String| {
        let app = &app;
        async move { app.v3_get("/tire-protection/registrations", &token).await }
    };
    for token in [
        sign_v3_kid("othercompany.key.pem", "2026-12", claims.clone()),
        sign_v3_kid("tirecompany.key.pem", "2026-06", claims.clone()),
        sign_v3("othercompany.key.pem", claims.clone()),
        sign_v3("tirecompany.key.pem", claims.clone()),
    ] {
        let (status, body) = list(token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (token, said) in [
        (
            sign_v3_kid("stranger.key.pem", "2025-12", claims.clone()),
            "stopped verifying at 2020-01-01T23:59:59Z",
        ),
        (
            sign_v3("stranger.key.pem", claims.clone()),
            "stopped verifying at 2020-01-01T23:59:59Z",
        ),
        (
            sign_v3_kid("othercompany.key.pem", "2027-06", claims.clone()),
            "kid \"2027-06\" names none",
        ),
        (
            sign_v3_kid("tirecompany.key.pem", "2026-12", claims.clone()),
            "does not match",
        ),
    ] {
        let (status, body) = list(token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{said}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{said}: {message}");
    }
    // Support sees which keys verified a token (the two live ones), and that the retired one,
    // refused, did not.
    let keys = app.ops_credentials(ROTATING, "v3_key").await;
    let keys: Vec<(&str, bool)> = (keys.iter())
        .map(|c| (c["id"].as_str().unwrap(), c["last_used_at"].is_string()))
        .collect();
    assert_eq!(keys, [("2026-12", true), ("2026-06", true), ("2025-12", false)]);

    // Kept in the database (each key's first use, off the request's way): a restarted server
    // says the same.
    let kept = "SELECT count(*) FROM credential_uses WHERE kind = 'v3_key'";
    for _ in 0..100 {
        if app.query_i64(kept) == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let app = app.restart().await;
    let after = app.ops_credentials(ROTATING, "v3_key").await;
    let after: Vec<(&str, bool)> = (after.iter())
        .map(|c| (c["id"].as_str().unwrap(), c["last_used_at"].is_string()))
        .collect();
    assert_eq!(after, keys);
}
