//! The hostile-input corpus of fixtures/hostile (made by generate.py there): every body and query
//! gets the answer its manifest names, never a 5xx, a panic or a dropped connection; nothing of
//! it is stored, and the server stays healthy throughout.

use std::io::Read;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::helpers::*;

const LIMIT: usize = 8 * 1024 * 1024;

#[derive(Deserialize)]
struct BodyCase {
    name: String,
    file: String,
    send: String,
    status: u16,
    code: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryCase {
    query: String,
    status: u16,
}

fn read_fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/hostile/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every `Code` of every `Errors` entry in a response.
fn codes(res: &Value) -> Vec<String> {
    res.as_array()
        .map(|entries| {
            entries
                .iter()
                .flat_map(|e| e["Errors"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["Code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn healthy(app: &TestApp) {
    let res = app.client.get(format!("{}/healthz", app.address)).send().await;
    assert_eq!(res.map(|r| r.status()).ok(), Some(StatusCode::OK));
}

#[tokio::test]
async fn every_hostile_body_gets_the_4xx_that_names_its_problem() {
    let app = spawn_app_with_limit(LIMIT).await;
    let cases: Vec<BodyCase> = serde_json::from_slice(&read_fixture("manifest.json")).unwrap();
    assert!(cases.len() >= 60, "the corpus holds {} bodies", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let raw = read_fixture(&case.file);
        let mut req = app.client.post(app.url(COMPANY)).bearer_auth(token());
        let body = match case.send.as_str() {
            "raw" => raw,
            "gzip" => {
                req = req.header("content-encoding", "gzip");
                raw
            }
            "inflated" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
                out
            }
            other => panic!("{}: unknown send {other}", case.name),
        };
        let res = match req.body(body).send().await {
            Ok(res) => res,
            Err(e) => {
                failures.push(format!("{}: no answer: {e}", case.name));
                continue;
            }
        };
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let short = &text[..text.len().min(300)];
        if status != case.status {
            failures.push(format!(
                "{}: status {status}, expected {}: {short}",
                case.name, case.status
            ));
        } else if let Some(code) = &case.code
            && !codes(&parsed).contains(code)
        {
            failures.push(format!("{}: no {code} in {short}", case.name));
        } else if let Some(error) = &case.error
            && !parsed["Error"].as_str().is_some_and(|e| e.contains(error.as_str()))
        {
            failures.push(format!("{}: Error should mention {error}: {short}", case.name));
        }
        // A value is never echoed whole: one bad record's answer stays small.
        if case.name.contains("100k") || case.name.contains("1m-") {
            assert!(text.len() < 4096, "{}: a {} byte answer", case.name, text.len());
        }
        healthy(&app).await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Nothing of any of them was stored.
    let (status, _) = app
        .get(COMPANY, "rec=registrations&ShopID=005308&InvoiceNumber=1044273")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_hostile_query_gets_its_answer() {
    let app = spawn_app().await;
    let cases: Vec<QueryCase> = serde_json::from_slice(&read_fixture("queries.json")).unwrap();
    for case in &cases {
        let res = app.get_raw(COMPANY, &token(), &case.query).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, case.status, "{}: {text}", case.query);
        match status {
            204 => assert!(text.is_empty()),
            _ => assert!(
                serde_json::from_str::<Value>(&text).unwrap()["Error"].is_string(),
                "{text}"
            ),
        }
    }
    healthy(&app).await;
}

#[tokio::test]
async fn sql_looking_values_are_plain_data() {
    let app = spawn_app().await;
    let evil = "1';DROP TABLE regs;--";
    let reg = with(
        registration(evil, "I1\" OR \"1\"=\"1"),
        json!({"VIN": "%' UNION SELECT * FROM claims --"}),
    );
    let (status, res) = app.post(COMPANY, &json!({"Registrations": [reg]})).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let query = format!(
        "rec=registrations&ShopID={}&InvoiceNumber={}",
        "1%27%3BDROP%20TABLE%20regs%3B--", "I1%22%20OR%20%221%22%3D%221"
    );
    let (status, got) = app.get(COMPANY, &query).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&got["ShopID"], &got["VIN"]),
        (&json!(evil), &json!("%' UNION SELECT * FROM claims --"))
    );
    // The other records are still there and still separate.
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::OK
    );
}
