//! Requests refused at the door (`/ops/refused` and the refused-requests metric): kept for
//! support with their reason, never their token, and a flood of them kept only in part.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// `/ops/refused` with `query` once at least `total` are kept (they are written off the
/// request's path), or after ten seconds.
async fn refused_once(app: &TestApp, query: &str, total: u64) -> Value {
    for _ in 0..200 {
        let (status, page) = app.ops_get(&format!("/refused{query}"), &support()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if page["total"].as_u64().unwrap() >= total {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.ops_get(&format!("/refused{query}"), &support()).await.1
}

#[tokio::test]
async fn requests_refused_at_the_door_are_kept_for_support_with_their_reason_and_never_their_token() {
    let app = spawn_app().await;
    let forged = sign("not-tirecompanys-secret-0123456789abcdef01", json!({"partnerid": 1001}));
    let expired = sign(SECRET, json!({"partnerid": 1001, "exp": 1_000_000_000}));
    let send = |method: reqwest::Method, path: String, token: Option<String>| {
        let mut req = app
            .client
            .request(method, format!("{}{path}", app.address))
            .header("user-agent", "NightlyPOS/7.1");
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    for (method, path, token) in [
        (
            reqwest::Method::POST,
            format!("/v2/partners/{COMPANY}"),
            Some(forged.clone()),
        ),
        (
            reqwest::Method::GET,
            format!("/v2/partners/{COMPANY}_test?rec=claims&ShopID=S&InvoiceNumber=I"),
            Some(expired.clone()),
        ),
        (
            reqwest::Method::GET,
            "/v2/partners/tirecompnay/batches".to_owned(),
            Some(token()),
        ),
        (reqwest::Method::GET, "/ops/batches".to_owned(), Some(token())),
        (reqwest::Method::GET, format!("/v2/partners/{OTHER}"), None),
    ] {
        let res = send(method, path.clone(), token).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    let page = refused_once(&app, "", 5).await;
    assert_eq!(page["total"], 5, "{page}");
    crate::openapi::assert_valid(&crate::openapi::document(), "OpsRefusedPage", &page);
    let items = page["items"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, Value, Value)> = items
        .iter()
        .map(|i| {
            (
                i["reason"].as_str().unwrap(),
                i["method"].as_str().unwrap(),
                i["path"].as_str().unwrap(),
                i["company"].clone(),
                i["tenant"].clone(),
            )
        })
        .collect();
    // Newest first. A path is kept without its query.
    assert_eq!(
        seen,
        [
            (
                "missing_token",
                "GET",
                "/v2/partners/othercompany",
                json!(OTHER),
                json!("live")
            ),
            ("unknown_operator", "GET", "/ops/batches", Value::Null, Value::Null),
            (
                "unknown_company",
                "GET",
                "/v2/partners/tirecompnay/batches",
                json!("tirecompnay"),
                Value::Null
            ),
            (
                "expired",
                "GET",
                "/v2/partners/tirecompany_test",
                json!("tirecompany_test"),
                json!("test")
            ),
            (
                "bad_signature",
                "POST",
                "/v2/partners/tirecompany",
                json!(COMPANY),
                json!("live")
            ),
        ]
    );
    for item in items {
        assert_eq!(item["client"], "127.0.0.1");
        assert_eq!(item["user_agent"], "NightlyPOS/7.1");
        assert!(item["at"].as_str().unwrap().ends_with('Z'));
    }
    // Each in the words its client was answered with: support can say what to mend.
    let details: Vec<&str> = items.iter().map(|i| i["detail"].as_str().unwrap()).collect();
    assert_eq!(
        details[0],
        "missing Authorization header; send 'Authorization: Bearer <JWT>'"
    );
    assert_eq!(details[2], "unknown company \"tirecompnay\"");
    assert!(
        details[3].starts_with("the token has expired: its exp is 2001-09-09T01:46:40Z, ")
            && details[3].contains(" days before this server's clock ("),
        "{}",
        details[3]
    );
    assert_eq!(details[4], "the token's signature does not match this company's secret");
    let text = page.to_string();
    for secret in [&forged, &expired, &token()] {
        assert!(!text.contains(secret.as_str()), "a token is kept: {text}");
    }

    // One partner's, live and test; none since a time to come; a bad filter named.
    let page = refused_once(&app, &format!("?company={COMPANY}"), 2).await;
    assert_eq!(page["total"], 2, "{page}");
    let (_, page) = app.ops_get("/refused?since=2999-01-01T00:00:00Z", &support()).await;
    assert_eq!(page["total"], 0);
    for query in ["?company=nobody", "?since=yesterday", "?pageSize=0"] {
        let (status, body) = app.ops_get(&format!("/refused{query}"), &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }

    // Each is counted by reason.
    let metrics = app.metrics().await;
    for reason in [
        "missing_token",
        "bad_signature",
        "expired",
        "unknown_company",
        "unknown_operator",
    ] {
        let line = format!("warranty_gateway_refused_requests_total{{reason=\"{reason}\"}}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_flood_from_one_address_is_answered_but_kept_only_sixty_a_minute() {
    let app = spawn_app().await;
    let url = format!("{}/v2/partners/{COMPANY}", app.address);
    let flood = 150;
    // The limit is per clock minute: start the flood early in one, so that it is one minute's.
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 50 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let minute = || chrono::Utc::now().timestamp().div_euclid(60);
    let first_minute = minute();
    for _ in 0..flood {
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let minutes = minute() - first_minute + 1;
    let kept = settled_total(&app, 60).await;
    if minutes == 1 {
        assert_eq!(kept, 60, "{kept} of {flood} kept in one minute");
    } else {
        // A flood slower than ten seconds (a loaded machine) straddles two minutes.
        assert!(
            (60..=120).contains(&kept),
            "{kept} of {flood} kept over {minutes} minutes"
        );
    }
}

/// `/ops/refused`'s total once it is at least `least` and has stopped growing (writes are made
/// off the request's path, so the last of them land after the answers).
async fn settled_total(app: &TestApp, least: u64) -> u64 {
    let mut last = refused_once(app, "", least).await["total"].as_u64().unwrap();
    let mut unchanged = 0;
    while unchanged < 5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, page) = app.ops_get("/refused", &support()).await;
        let total = page["total"].as_u64().unwrap();
        unchanged = if total == last { unchanged + 1 } else { 0 };
        last = total;
    }
    last
}
