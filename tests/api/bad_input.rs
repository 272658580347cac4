//! Bad bodies, transports and queries: each gets a 4xx that names the problem, never a 5xx, and
//! nothing of a rejected record is stored.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// POSTs raw bytes and expects a body-level 400 whose one entry has `code` and mentions `needle`.
async fn body_rejected(app: &TestApp, body: impl Into<reqwest::Body>, code: &str, needle: &str) {
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    let entries = res.as_array().unwrap_or_else(|| panic!("not an array: {res}"));
    assert_eq!(entries.len(), 1, "{res}");
    let err = &entries[0]["Errors"][0];
    assert_eq!(
        (entries[0]["Record"].as_str(), err["Code"].as_str()),
        (Some("Body"), Some(code)),
        "{res}"
    );
    let message = err["Message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} should contain {needle:?}");
}

async fn healthy(app: &TestApp) {
    let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn bodies_that_are_not_usable_json_are_400_naming_the_problem() {
    let app = spawn_app().await;
    body_rejected(&app, "", "empty_body", "empty").await;
    body_rejected(&app, "   \n", "empty_body", "empty").await;
    body_rejected(
        &app,
        b"{\"Registrations\": [\xff\xfe]}".to_vec(),
        "invalid_utf8",
        "byte 0xFF at offset 19, after \"{\\\"Registrations\\\": [\"",
    )
    .await;
    body_rejected(&app, "ShopID=1&InvoiceNumber=2", "invalid_json", "it is form fields").await;
    body_rejected(
        &app,
        "<?xml version=\"1.0\"?>\n<Registrations><Registration/></Registrations>",
        "invalid_json",
        "the body is not JSON: it starts with \"<\", as XML or HTML does",
    )
    .await;
    body_rejected(&app, "{\"Registrations\": [}", "invalid_json", "not usable JSON").await;
    body_rejected(&app, r#"{"Registrations": [{"ShopID": "1"}"#, "invalid_json", "EOF").await;
    body_rejected(
        &app,
        "[]",
        "invalid_json",
        "a JSON object with one or more of the arrays Registrations",
    )
    .await;
    body_rejected(&app, "null", "invalid_json", "a JSON object").await;
    body_rejected(&app, "{}", "no_records", "Registrations, Sales, Claims, Cancellations").await;
    body_rejected(
        &app,
        r#"{"Registration": [{}]}"#,
        "unknown_array",
        "\"Registration\"; expected Registrations, Sales, Claims, Cancellations: is it Registrations, an array of records?",
    )
    .await;
    // One record sent as an object under a near name, beside an empty array: not a quiet 200.
    body_rejected(
        &app,
        r#"{"claim": {"ShopID": "1"}, "Registrations": []}"#,
        "unknown_array",
        "\"claim\" (it holds an object); expected Registrations, Sales, Claims, Cancellations: is it Claims",
    )
    .await;
    body_rejected(
        &app,
        r#"{"Registrations": {"ShopID": "1"}}"#,
        "invalid_json",
        "Registrations to be an array",
    )
    .await;
    body_rejected(&app, r#"{"Claims": "none"}"#, "invalid_json", "Claims to be an array").await;
    body_rejected(&app, r#"{"Sales": []} {"Sales": []}"#, "invalid_json", "trailing").await;
    // Deep nesting neither overflows the stack nor passes for a value.
    let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    let (status, res) = json_of(
        app.post_raw(COMPANY, &token(), format!(r#"{{"Sales": [{{"ShopID": {deep}}}]}}"#))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(res[0]["Errors"][0]["Message"], "ShopID must be a string, got an array");
    healthy(&app).await;
}

#[tokio::test]
async fn bad_values_are_rejected_per_record_and_nothing_of_them_is_stored() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"ShopID": null}), "ShopID", "required"),
        (json!({"ShopID": ["005308"]}), "ShopID", "invalid_type"),
        (json!({"ShopID": {"id": 1}}), "ShopID", "invalid_type"),
        (json!({"ShopID": 12.5}), "ShopID", "invalid_type"),
        (json!({"ShopID": "x".repeat(100_000)}), "ShopID", "too_long"),
        (json!({"ShopID": "tab\there"}), "ShopID", "invalid_character"),
        (json!({"TiresCovered": true}), "TiresCovered", "invalid_type"),
        (json!({"TiresCovered": 1e300}), "TiresCovered", "out_of_range"),
        (json!({"TiresCovered": "NaN"}), "TiresCovered", "invalid_number"),
        (json!({"TiresCovered": "Infinity"}), "TiresCovered", "invalid_number"),
        (json!({"TPPPrice": 1e20}), "TPPPrice", "out_of_range"),
        (json!({"TPPPrice": [1]}), "TPPPrice", "invalid_type"),
        (json!({"PlanEnrollDate": 20181204}), "PlanEnrollDate", "invalid_type"),
        (
            json!({"PlanEnrollDate": "9999-99-99"}),
            "PlanEnrollDate",
            "invalid_date",
        ),
        (
            json!({"CommercialVehicle": "maybe"}),
            "CommercialVehicle",
            "invalid_boolean",
        ),
    ];
    for (i, (change, field, code)) in cases.into_iter().enumerate() {
        let invoice = format!("B{i}");
        let reg = with(registration("S1", &invoice), change.clone());
        let (status, res) = app.post(COMPANY, &json!({"Registrations": [reg]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {res}");
        assert_eq!(
            errors_of(&res[0]),
            vec![(field.to_owned(), code.to_owned())],
            "{change}"
        );
        let message = res[0]["Errors"][0]["Message"].as_str().unwrap();
        assert!(message.starts_with(field) && message.len() < 200, "{message}");
    }
    // Huge literals that no float can hold, sent as raw JSON.
    let huge = format!("1{}", "0".repeat(400));
    let raw = format!(
        r#"{{"Registrations": [{}]}}"#,
        with(
            registration("S1", "HUGE"),
            json!({"TiresCovered": "@", "TPPPrice": "@@"})
        )
        .to_string()
        .replace("\"@\"", &huge)
        .replace("\"@@\"", &format!("{huge}.5"))
    );
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), raw).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    assert_eq!(
        errors_of(&res[0]),
        vec![
            ("TiresCovered".into(), "out_of_range".into()),
            ("TPPPrice".into(), "out_of_range".into())
        ]
    );
    let (status, _) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=B0").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    healthy(&app).await;
}

#[tokio::test]
async fn lone_surrogates_and_nul_characters_are_rejected() {
    let app = spawn_app().await;
    let reg = registration("S1", "U1").to_string();
    for (bad, code) in [
        (r#""\ud800""#, "invalid_string"),
        (r#""a\u0000b""#, "invalid_character"),
    ] {
        let body = format!(r#"{{"Registrations": [{}]}}"#, reg.replacen(r#""S1""#, bad, 1));
        let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
        assert_eq!(errors_of(&res[0]), vec![("ShopID".to_owned(), code.to_owned())]);
    }
}

#[tokio::test]
async fn any_content_type_is_read_as_json() {
    let app = spawn_app().await;
    for (i, ct) in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data",
        "",
    ]
    .iter()
    .enumerate()
    {
        let body = json!({"Registrations": [registration("S1", &format!("CT{i}"))]}).to_string();
        let mut req = app.client.post(app.url(COMPANY)).bearer_auth(token()).body(body);
        if !ct.is_empty() {
            req = req.header("content-type", *ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{ct}");
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// POSTs `body` to tirecompany with this Content-Encoding.
async fn post_encoded(app: &TestApp, encoding: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let req = app
        .client
        .post(app.url(COMPANY))
        .bearer_auth(token())
        .header("content-encoding", encoding);
    json_of(req.body(body).send().await.unwrap()).await
}

#[tokio::test]
async fn gzip_bodies_are_accepted_and_counted_inflated() {
    let app = spawn_app_with_limit(64 * 1024).await;
    let body = json!({"Registrations": [registration("S1", "GZ")]}).to_string();
    let (status, res) = post_encoded(&app, "gzip", gzip(body.as_bytes())).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let (status, _) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=GZ").await;
    assert_eq!(status, StatusCode::OK);

    // A bomb: 10 MB of spaces that compress to a few kB, far over the 64 kB limit once inflated.
    let bomb = gzip(&vec![b' '; 10 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let (status, res) = post_encoded(&app, "gzip", bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res["Error"].as_str().unwrap().contains("65536 bytes"), "{res}");

    // The header without the compression, and the compression without the header: each said.
    let (status, res) = post_encoded(&app, "gzip", body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(res[0]["Errors"][0]["Code"], "invalid_gzip");
    let said = res[0]["Errors"][0]["Message"].as_str().unwrap();
    assert!(
        said.starts_with(
            "the body is not gzip (Content-Encoding: gzip says it is, but it starts with \"{\\\"Registrations"
        ) && said.ends_with("not gzip's bytes 1F 8B): compress it, or send it without that header"),
        "{said}"
    );
    let (status, res) = post_encoded(&app, "identity", gzip(body.as_bytes())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(res[0]["Errors"][0]["Code"], "invalid_utf8");
    assert!(
        res[0]["Errors"][0]["Message"].as_str().unwrap().contains(
            "gzip-compressed (it starts with gzip's bytes 1F 8B) but was not sent with Content-Encoding: gzip"
        ),
        "{res}"
    );
    // Bytes after gzip's first two that are no gzip stream: the decoder's own words.
    let (status, res) = post_encoded(&app, "gzip", &b"\x1F\x8Bnot gzip at all"[..]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(res[0]["Errors"][0]["Code"], "invalid_gzip");

    let (status, res) = post_encoded(&app, "br", body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res["Error"].as_str().unwrap().contains("\"br\""), "{res}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with_limit(4096).await;
    let big = json!({"Registrations": (0..40).map(|i| registration("S1", &format!("L{i}"))).collect::<Vec<_>>()});
    let (status, res) = app.post(COMPANY, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res["Error"].as_str().unwrap().contains("4096"), "{res}");
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=L0").await.0,
        StatusCode::NO_CONTENT
    );

    // Without a Content-Length (chunked), the limit holds as the body streams in.
    let address = app.address.trim_start_matches("http://").to_owned();
    let auth = token();
    let reply = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(address).unwrap();
        let head = format!(
            "POST /v2/partners/{COMPANY} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {auth}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b' '; 1024];
        for _ in 0..8 {
            // The server may answer and close before every chunk is sent.
            if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || s.write_all(&chunk).is_err()
                || s.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    healthy(&app).await;
}

#[tokio::test]
async fn other_methods_and_paths_get_json_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .put(app.url(COMPANY))
        .bearer_auth(token())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, HEAD, POST");
    let (_, body) = json_of(res).await;
    assert!(body["Error"].as_str().unwrap().contains("PUT"));
    // A trailing slash is the same resource.
    let res = app
        .get_raw(&format!("{COMPANY}/"), &token(), "rec=sales&ShopID=S1&InvoiceNumber=I1")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .get(format!("{}/v1/partners/{COMPANY}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_of(res).await.1["Error"],
        "no such resource: \"/v1/partners/tirecompany\": did you mean \"/v2/partners/tirecompany\"? \
         (every route is listed at /openapi.yaml)"
    );
}

/// A path a route would take but for its case or a letter or two is answered with that route,
/// in the shape of the surface asked; one near no route is answered without a guess.
#[tokio::test]
async fn a_mistyped_path_is_a_404_naming_the_route_it_may_mean() {
    let app = spawn_app().await;
    let not_found = |path: &'static str| {
        let req = app.client.get(format!("{}{path}", app.address)).bearer_auth(token());
        async move {
            let (status, body) = json_of(req.send().await.unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            body
        }
    };
    let body = not_found("/v2/Partners/tirecompany?rec=sales&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(
        body["Error"],
        "no such resource: \"/v2/Partners/tirecompany\": paths are case-sensitive: did you mean \
         \"/v2/partners/tirecompany\"? (every route is listed at /openapi.yaml)"
    );
    let body = not_found("/v2/partners/tirecompany/batch").await;
    assert!(
        (body["Error"].as_str().unwrap()).contains("did you mean \"/v2/partners/tirecompany/batches\"?"),
        "{body}"
    );
    // The operators' and v3's 404s say it in their own shapes.
    let body = not_found("/ops/batch/1").await;
    assert!(
        (body["error"]["message"].as_str().unwrap()).contains("did you mean \"/ops/batches/1\"?"),
        "{body}"
    );
    let body = not_found("/api/v3/tire-protection/Registrations").await;
    assert!(
        (body["error"]["message"].as_str().unwrap())
            .contains("paths are case-sensitive: did you mean \"/api/v3/tire-protection/registrations\"?"),
        "{body}"
    );
    let body = not_found("/v2/partners/tirecompany/uploads").await;
    assert_eq!(
        body["Error"],
        "no such resource: \"/v2/partners/tirecompany/uploads\" (every route is listed at /openapi.yaml)"
    );
}

#[tokio::test]
async fn get_without_its_parameters_is_400_listing_them() {
    let app = spawn_app().await;
    let (status, body) = app.get(COMPANY, "rec=registrations&ShopID=S1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Missing"], json!(["InvoiceNumber"]));
    let expected: Vec<&str> = body["Expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Field"].as_str().unwrap())
        .collect();
    assert_eq!(expected, ["rec", "ShopID", "InvoiceNumber", "OrgID", "partnerid"]);

    let (status, body) = app.get(COMPANY, "").await;
    assert_eq!(
        (status, body["Missing"].clone()),
        (StatusCode::BAD_REQUEST, json!(["rec", "ShopID", "InvoiceNumber"]))
    );
    let (status, body) = app.get(COMPANY, "rec=warranties&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["Error"].as_str().unwrap().contains("registrationstatus"), "{body}");
    // A parameter or rec value a letter or two off is asked about.
    let (status, body) = app.get(COMPANY, "rec=registration&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["Error"].as_str().unwrap().ends_with(": is it registrations?"),
        "{body}"
    );
    let (status, body) = app.get(COMPANY, "rec=sales&ShopID=S1&Invoice=I1").await;
    assert_eq!(
        (status, &body["Missing"]),
        (StatusCode::BAD_REQUEST, &json!(["InvoiceNumber"]))
    );
    assert_eq!(
        body["Error"],
        "missing required parameter(s): InvoiceNumber; \"Invoice\" was sent, which is not read: is it InvoiceNumber?"
    );
}

/// A refusal's fields come in the order docs/v2-api.md and docs/v3-api.md show them (and a
/// record's result has), not sorted: what someone compares at 2 a.m. reads the same.
#[tokio::test]
async fn refusals_list_their_fields_in_the_documented_order() {
    let app = spawn_app().await;
    let text = app.post_raw(COMPANY, &token(), "").await.text().await.unwrap();
    assert!(
        text.starts_with(r#"[{"Record":"Body","Status":"Rejected","Errors":[{"Field":"Body","Code":"empty_body","#),
        "{text}"
    );
    let text = app
        .get_raw(COMPANY, &token(), "rec=registrations&ShopID=S1")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.starts_with(r#"{"Error":"missing required parameter(s): InvoiceNumber","Missing":["InvoiceNumber"],"Expected":[{"Field":"rec","Required":true,"Values":["#),
        "{text}"
    );
    let res = app
        .client
        .post(app.v3_url("/tire-protection/registrations"))
        .bearer_auth(v3_token())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with(r#"{"error":{"message":"the registration has "#),
        "{text}"
    );
    assert!(text.contains(r#""errors":[{"field":"#), "{text}");
}

#[tokio::test]
async fn gets_match_case_insensitively_answer_204_or_an_array_and_narrow_by_orgid() {
    let app = spawn_app().await;
    let body = json!({
        "Registrations": [with(registration("S1", "I1"), json!({"OrgID": "GROUP-A"}))],
        "Claims": [
            claim("S1", "I1", "R1", 1, "2024-03-01"),
            with(claim("S1", "I1", "R2", 1, "2024-03-02"), json!({"OrgID": "GROUP-A"})),
        ],
    });
    assert_eq!(app.post(COMPANY, &body).await.0, StatusCode::OK);
    let (status, got) = app.get(COMPANY, "REC=Claims&shopID=S1&INVOICENUMBER=I1").await;
    assert_eq!(status, StatusCode::OK);
    let repairs: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["RepairInvoiceNumber"].as_str().unwrap())
        .collect();
    assert_eq!(repairs, ["R1", "R2"]);
    let (_, got) = app
        .get(COMPANY, "rec=claims&ShopID=S1&InvoiceNumber=I1&orgid=GROUP-A")
        .await;
    assert_eq!((got.is_object(), &got["RepairInvoiceNumber"]), (true, &json!("R2")));
    let (_, got) = app
        .get(
            COMPANY,
            "rec=RegistrationStatus&ShopID=S1&InvoiceNumber=I1&OrgID=GROUP-A",
        )
        .await;
    assert_eq!(got["TireClaimCount"], 2);
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1&OrgID=GROUP-B")
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // Values are exact: the invoice is not matched case-insensitively or by prefix.
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=s1&InvoiceNumber=I1").await.0,
        StatusCode::NO_CONTENT
    );
    let res = app
        .get_raw(COMPANY, &token(), "rec=registrations&ShopID=S1&InvoiceNumber=NONE")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn healthz_needs_no_token_and_responses_carry_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(json_of(res).await.1, json!({"Status": "ok"}));
}
