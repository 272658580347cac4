//! What partners' clients trip on (written from real integrations): refused batches' ids, HEAD
//! and 405s, fractional NumericDates, whole-second timestamps, float money, expiry by calendar
//! day, the years a date may have.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Months, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warranty_gateway::config::ServerSettings;

use crate::helpers::*;

const TEST: &str = "tirecompany_test";

/// The batch id an answer names.
fn batch_id(res: &reqwest::Response) -> i64 {
    res.headers()
        .get("x-batch-id")
        .unwrap_or_else(|| panic!("no X-Batch-Id on a {} answer", res.status()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn history_entry(app: &TestApp, id: i64) -> Value {
    let (status, body) = app.batch(TEST, id).await;
    assert_eq!(status, StatusCode::OK, "batch {id}: {body}");
    body
}

#[tokio::test]
async fn every_refused_body_names_its_history_entry() {
    let app = spawn_app_with(ServerSettings {
        max_body_bytes: 4096,
        body_timeout_secs: 1,
        ..server_settings()
    })
    .await;
    let mut cases = Vec::new();
    // 400: not JSON; an unknown record array.
    let res = app.post_raw(TEST, &token(), "{not json").await;
    cases.push((StatusCode::BAD_REQUEST, res));
    let res = app
        .post_raw(
            TEST,
            &token(),
            json!({"Registration": [registration("S1", "I1")]}).to_string(),
        )
        .await;
    cases.push((StatusCode::BAD_REQUEST, res));
    // 413: declared too large, and too large once inflated is covered by bad_input; here sent.
    let res = app.post_raw(TEST, &token(), vec![b' '; 5000]).await;
    cases.push((StatusCode::PAYLOAD_TOO_LARGE, res));
    // 415: an encoding the server does not take.
    let res = app
        .client
        .post(app.url(TEST))
        .bearer_auth(token())
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    cases.push((StatusCode::UNSUPPORTED_MEDIA_TYPE, res));
    for (want, res) in cases {
        assert_eq!(res.status(), want);
        let id = batch_id(&res);
        let entry = history_entry(&app, id).await;
        assert_eq!(entry["Status"], json!(want.as_u16()), "{entry}");
        assert!(entry["Error"].is_string(), "{entry}");
    }

    // 408: a body that stops arriving. Read the raw answer off the socket.
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v2/partners/{TEST} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"Sales\"",
        token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    let reply = String::from_utf8_lossy(&reply).to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 408"), "{reply}");
    let id: i64 = reply
        .lines()
        .find_map(|l| l.strip_prefix("x-batch-id: "))
        .unwrap_or_else(|| panic!("no X-Batch-Id: {reply}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(history_entry(&app, id).await["Status"], 408);

    // 401 proves no partner: no entry, no id.
    let res = app.post_raw(TEST, "not-a-token", "{}").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("x-batch-id").is_none());
}

/// Headers that differ from one answer to the next whatever the method.
const VOLATILE: &[&str] = &["date", "x-request-id", "x-batch-id"];

#[tokio::test]
async fn every_get_route_answers_head_with_the_same_status_and_headers() {
    let app = spawn_app().await;
    let res = app
        .post_raw(
            TEST,
            &token(),
            json!({"Registrations": [registration("S1", "I1")]}).to_string(),
        )
        .await;
    let id = batch_id(&res);
    let company = app.url(TEST);
    let urls = [
        (format!("{}/healthz", app.address), true),
        (format!("{}/console", app.address), true),
        (format!("{}/console/ops", app.address), true),
        (format!("{}/openapi.yaml", app.address), true),
        (format!("{company}/batches/{id}/rejected.csv"), true),
        // Metrics change between two scrapes: its length may differ.
        (format!("{}/metrics", app.address), false),
        (format!("{company}?rec=registrations&ShopID=S1&InvoiceNumber=I1"), true),
        (
            format!("{company}?rec=registrationstatus&ShopID=S1&InvoiceNumber=NONE"),
            true,
        ),
        (format!("{company}?rec=registrations"), true),
        (format!("{company}/batches"), true),
        (format!("{company}/batches/{id}"), true),
        (format!("{company}/batches/999999"), true),
    ];
    for (url, same_length) in urls {
        for auth in [Some(token()), None] {
            let send = |method: Method| {
                let mut req = app.client.request(method, &url);
                if let Some(t) = &auth {
                    req = req.bearer_auth(t);
                }
                req.send()
            };
            let get = send(Method::GET).await.unwrap();
            let head = send(Method::HEAD).await.unwrap();
            assert_eq!(head.status(), get.status(), "HEAD {url}");
            let headers = |res: &reqwest::Response| -> BTreeSet<(String, String)> {
                res.headers()
                    .iter()
                    .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
                    .filter(|(k, _)| same_length || k.as_str() != "content-length")
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                    .collect()
            };
            assert_eq!(headers(&head), headers(&get), "HEAD {url}");
            assert!(head.bytes().await.unwrap().is_empty(), "HEAD {url} sent a body");
        }
    }
}

#[tokio::test]
async fn a_method_a_known_path_does_not_take_is_405_with_a_true_allow() {
    let app = spawn_app().await;
    let cases = [
        (Method::POST, format!("{}/healthz", app.address), "GET, HEAD"),
        (Method::POST, format!("{}/metrics", app.address), "GET, HEAD"),
        (Method::DELETE, format!("{}/console", app.address), "GET, HEAD"),
        (Method::PUT, format!("{}/openapi.yaml", app.address), "GET, HEAD"),
        (Method::PUT, app.url(COMPANY), "GET, HEAD, POST"),
        (Method::PATCH, app.url(COMPANY), "GET, HEAD, POST"),
        (Method::OPTIONS, app.url(COMPANY), "GET, HEAD, POST"),
        // DELETE on a live company: refused, and the same Allow.
        (Method::DELETE, app.url(COMPANY), "GET, HEAD, POST"),
        (Method::PUT, app.url(TEST), "GET, HEAD, POST, DELETE"),
        (Method::POST, format!("{}/batches", app.url(TEST)), "GET, HEAD"),
        (Method::DELETE, format!("{}/batches/1", app.url(COMPANY)), "GET, HEAD"),
    ];
    for (method, url, allow) in cases {
        let res = app
            .client
            .request(method.clone(), &url)
            .bearer_auth(token())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {url}");
        assert_eq!(res.headers()["allow"], allow, "{method} {url}");
        let (_, body) = json_of(res).await;
        assert!(body["Error"].is_string(), "{method} {url}: {body}");
    }
}

#[tokio::test]
async fn claimdate_may_be_a_numeric_date_with_a_fraction() {
    let app = spawn_app().await;
    let now = Utc::now().timestamp_micros() as f64 / 1e6;
    for claimdate in [json!(now), json!(1_580_119_200.5), json!(1_580_119_200)] {
        let t = sign(SECRET, json!({"partnerid": PARTNER_ID, "claimdate": claimdate}));
        let res = app.get_raw(COMPANY, &t, "rec=sales&ShopID=S1&InvoiceNumber=I1").await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "claimdate {claimdate}");
    }
    // Not a date in any form: still refused.
    for claimdate in [json!(1e300), json!(-1e300), json!(true)] {
        let t = sign(SECRET, json!({"partnerid": PARTNER_ID, "claimdate": claimdate}));
        let res = app.get_raw(COMPANY, &t, "rec=sales&ShopID=S1&InvoiceNumber=I1").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "claimdate {claimdate}");
    }
}

/// `2026-11-23T08:02:12Z`: the guide's format, whole seconds.
fn is_whole_second_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 20 && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

#[tokio::test]
async fn timestamps_the_server_makes_are_whole_seconds() {
    let app = spawn_app().await;
    let reg = with(
        registration("S1", "I1"),
        json!({"PlanEnrollDate": "2024-01-15T10:00:00.250Z"}),
    );
    let res = app
        .post_raw(TEST, &token(), json!({"Registrations": [reg]}).to_string())
        .await;
    let id = batch_id(&res);
    let status = app.status_of(TEST, "S1", "I1").await;
    assert!(is_whole_second_time(&status["CreatedDate"]), "{status}");
    // A date the partner sent keeps what was sent.
    assert_eq!(status["PlanEnrollDate"], "2024-01-15T10:00:00.250Z");
    let entry = history_entry(&app, id).await;
    assert!(is_whole_second_time(&entry["ReceivedAt"]), "{entry}");
    let url = format!("{}/batches", app.url(TEST));
    let (_, page) = json_of(app.client.get(url).bearer_auth(token()).send().await.unwrap()).await;
    assert!(is_whole_second_time(&page["Batches"][0]["ReceivedAt"]), "{page}");
}

#[tokio::test]
async fn float_noise_in_money_numbers_is_the_nearest_cent_with_a_warning() {
    let app = spawn_app().await;
    // Written by hand: serde_json would print these doubles the same way, but say it plainly.
    let body = r#"{"Registrations": [
        {"ShopID": "S1", "InvoiceNumber": "I1", "PlanEnrollDate": "2024-01-15", "TiresCovered": 4,
         "TPPPrice": 0.30000000000000004, "TirePrice": 64.03999999999999, "TireCost": 100,
         "VehicleYear": "2019", "VehicleMake": "FORD", "VehicleModel": "F150", "CustomerID": "C1",
         "EmployeeID": "E1", "TireBrand": "SUM", "TireModel": "M", "TireSize": "2356018"},
        {"ShopID": "S1", "InvoiceNumber": "I2", "PlanEnrollDate": "2024-01-15", "TiresCovered": 4,
         "TPPPrice": 1.005, "TirePrice": "64.03999999999999", "TireCost": 100,
         "VehicleYear": "2019", "VehicleMake": "FORD", "VehicleModel": "F150", "CustomerID": "C1",
         "EmployeeID": "E1", "TireBrand": "SUM", "TireModel": "M", "TireSize": "2356018"}
    ]}"#;
    let (status, results) = json_of(app.post_raw(TEST, &token(), body).await).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{results}");
    let ok = &results[0];
    assert_eq!(ok["Status"], "Successfully Posted", "{ok}");
    let warnings: Vec<&str> = ok["Warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{ok}");
    assert!(warnings[0].contains("TPPPrice 0.30000000000000004"), "{warnings:?}");
    assert!(warnings[1].contains("TirePrice 64.03999999999999"), "{warnings:?}");
    assert!(warnings[1].contains("64.04"), "{warnings:?}");
    // A real third decimal, and a string (what the sender wrote), stay errors.
    assert_eq!(
        errors_of(&results[1]),
        vec![
            ("TPPPrice".to_owned(), "too_many_decimals".to_owned()),
            ("TirePrice".to_owned(), "too_many_decimals".to_owned()),
        ]
    );
    let (_, stored) = app.get(TEST, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(
        (&stored["TPPPrice"], &stored["TirePrice"]),
        (&json!(0.3), &json!(64.04))
    );
}

/// A Denver partner (othercompany) with a 12-month plan.
const DENVER: &str = "othercompany_test";

#[tokio::test]
async fn a_claim_or_cancellation_on_the_expiry_day_is_within_the_plan() {
    let app = spawn_app().await;
    // Enrolled at 09:00 in Denver: expires 2024-06-01 at 09:00, and covers all of that day.
    let (status, body) = app
        .post(
            DENVER,
            &json!({"Registrations": [
                with(registration("S1", "I1"), json!({"PlanEnrollDate": "2023-06-01T09:00:00"})),
                with(registration("S1", "I2"), json!({"PlanEnrollDate": "2023-06-01T09:00:00"})),
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            DENVER,
            &json!({
                "Claims": [
                    claim("S1", "I1", "R1", 1, "2024-06-01T18:30:00"),
                    claim("S1", "I1", "R2", 1, "2024-06-01T23:59:59-06:00"),
                    claim("S1", "I1", "R3", 1, "2024-06-02T00:00:30"),
                ],
                "Cancellations": [cancellation("S1", "I2", "C1", 2, "2024-06-01T22:00:00")],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{body}");
    let statuses: Vec<&Value> = body.as_array().unwrap().iter().map(|r| &r["Status"]).collect();
    assert_eq!(
        statuses,
        [
            "Successfully Posted",
            "Successfully Posted",
            "Rejected",
            "Successfully Posted"
        ]
    );
    assert_eq!(
        errors_of(&body[2]),
        vec![("ClaimDate".to_owned(), "registration_expired".to_owned())]
    );
    assert!(
        body[2]["Errors"][0]["Message"].as_str().unwrap().contains("2024-06-01"),
        "{body}"
    );
}

#[tokio::test]
async fn registrationstatus_says_expired_only_once_the_expiry_day_has_ended() {
    let app = spawn_app().await;
    let denver = chrono_tz::America::Denver;
    // Within the first seconds of a Denver day, "earlier today" does not exist yet: wait.
    let mut now = Utc::now().with_timezone(&denver);
    if now.time() < chrono::NaiveTime::from_hms_opt(0, 0, 5).unwrap() {
        tokio::time::sleep(Duration::from_secs(6)).await;
        now = Utc::now().with_timezone(&denver);
    }
    let today = now.date_naive();
    let enrolled_on = |day: NaiveDate| {
        let enrolled = day.checked_sub_months(Months::new(12)).unwrap();
        // A clamped month end (Feb 29 -> Feb 28) would not land on `day` again.
        (enrolled.checked_add_months(Months::new(12)) == Some(day)).then(|| enrolled.format("%Y-%m-%d").to_string())
    };
    let Some(expires_today) = enrolled_on(today) else {
        eprintln!("skipped: no plan expires today ({today}) by the calendar");
        return;
    };
    let yesterday = today.pred_opt().unwrap();
    let Some(expired_yesterday) = enrolled_on(yesterday) else {
        eprintln!("skipped: no plan expired yesterday ({yesterday}) by the calendar");
        return;
    };
    let (status, body) = app
        .post(
            DENVER,
            &json!({"Registrations": [
                // Midnight and one second: that time of day is already past, the day is not.
                with(registration("S1", "TODAY"), json!({"PlanEnrollDate": format!("{expires_today}T00:00:01")})),
                with(registration("S1", "YESTERDAY"), json!({"PlanEnrollDate": format!("{expired_yesterday}T23:59:59")})),
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = app.status_of(DENVER, "S1", "TODAY").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(1), &json!("Registration is Active")),
        "{s}"
    );
    let s = app.status_of(DENVER, "S1", "YESTERDAY").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(4), &json!("Registration is Expired")),
        "{s}"
    );
}

#[tokio::test]
async fn dates_are_in_the_years_1900_to_2999() {
    let app = spawn_app().await;
    let regs: Vec<Value> = [
        "9999-12-31",
        "1899-12-31",
        "3000-01-01T00:00:00Z",
        "2999-12-31",
        "1900-01-01",
    ]
    .iter()
    .enumerate()
    .map(|(i, d)| with(registration("S1", &format!("Y{i}")), json!({"PlanEnrollDate": d})))
    .collect();
    let (status, body) = app.post(TEST, &json!({ "Registrations": regs })).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{body}");
    for i in 0..3 {
        assert_eq!(
            errors_of(&body[i]),
            vec![("PlanEnrollDate".to_owned(), "out_of_range".to_owned())],
            "{body}"
        );
        assert!(
            body[i]["Errors"][0]["Message"]
                .as_str()
                .unwrap()
                .contains("1900 to 2999")
        );
    }
    let (status, body) = app
        .post(TEST, &json!({"Claims": [claim("S1", "Y3", "R1", 1, "3000-01-01")]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        errors_of(&body[0]),
        vec![("ClaimDate".to_owned(), "out_of_range".to_owned())]
    );
    // The latest enrollment still has an RFC 3339 ExpireDate, 36 months on.
    let s = app.status_of(TEST, "S1", "Y3").await;
    assert_eq!(s["ExpireDate"], "3002-12-31T00:00:00Z");
    let s = app.status_of(TEST, "S1", "Y4").await;
    assert_eq!(s["PlanEnrollDate"], "1900-01-01T00:00:00Z");
}
