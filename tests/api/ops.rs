//! The operators' routes: `/ops/batches` across partners with its filters, `/ops/batches/{id}`,
//! and who may call them (an operator's token only, the role from the config).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Three batches: tirecompany live (one record refused: 206), tirecompany test (200), and
/// othercompany live (200); answers their ids in that order. The refused record also carries
/// an unknown field: the first batch has one warning.
async fn three_batches(app: &TestApp) -> [i64; 3] {
    let mut broken = registration("S1", "I2");
    broken["TiresCovered"] = json!(0);
    broken["Colour"] = json!("red");
    let mixed = json!({"Registrations": [registration("S1", "I1"), broken]});
    let id = |res: reqwest::Response| {
        assert!(res.status().is_success() || res.status() == StatusCode::PARTIAL_CONTENT);
        res.headers()["x-batch-id"].to_str().unwrap().parse::<i64>().unwrap()
    };
    let first = id(app.post_raw(COMPANY, &token(), mixed.to_string()).await);
    let body = json!({"Registrations": [registration("S1", "T1")]}).to_string();
    let second = id(app.post_raw(&format!("{COMPANY}_test"), &token(), body.clone()).await);
    let third = id(app.post_raw(OTHER, &other_token(), body).await);
    [first, second, third]
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_operator_lists_every_partners_batches_newest_first_with_whose_they_are() {
    let app = spawn_app().await;
    let [first, second, third] = three_batches(&app).await;
    let (status, page) = app.ops_get("/batches", &support()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), [third, second, first]);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["page"].as_i64(),
            page["page_size"].as_i64()
        ),
        (Some(3), Some(1), Some(50))
    );
    let newest = &page["items"][0];
    assert_eq!(
        (newest["company"].as_str(), newest["partner_id"].as_i64()),
        (Some(OTHER), Some(OTHER_ID))
    );
    let oldest = &page["items"][2];
    assert_eq!(oldest["tenant"], "live");
    assert_eq!(oldest["status"], 206);
    assert_eq!(
        oldest["records"]["registrations"],
        json!({"accepted": 1, "rejected": 1})
    );
    assert_eq!(oldest["records"]["claims"], json!({"accepted": 0, "rejected": 0}));
    assert!(oldest["received_at"].as_str().unwrap().ends_with('Z'));

    // Each filter, alone and together.
    for (query, expected) in [
        (format!("?company={COMPANY}"), vec![second, first]),
        ("?tenant=test".to_owned(), vec![second]),
        ("?status=206".to_owned(), vec![first]),
        (format!("?company={COMPANY}&tenant=live"), vec![first]),
        (
            "?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B01:00".to_owned(),
            vec![third, second, first],
        ),
        ("?until=2000-01-01T00:00:00Z".to_owned(), vec![]),
        ("?pageSize=1&page=2".to_owned(), vec![second]),
    ] {
        let (status, page) = app.ops_get(&format!("/batches{query}"), &support()).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
    }

    // One batch in full, whoever's it is.
    let (status, batch) = app.ops_get(&format!("/batches/{first}"), &support()).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    assert_eq!(
        (batch["company"].as_str(), batch["tenant"].as_str()),
        (Some(COMPANY), Some("live"))
    );
    let rejected = batch["rejected_records"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["Errors"][0]["Field"], "TiresCovered");
    assert_eq!(batch["rejected_counts"], json!([]));
    let (status, batch) = app.ops_get(&format!("/batches/{third}"), &support()).await;
    assert_eq!((status, batch["company"].as_str()), (StatusCode::OK, Some(OTHER)));
    let (status, _) = app.ops_get("/batches/999999", &support()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_parameters_are_400s_that_name_them() {
    let app = spawn_app().await;
    for (query, needle) in [
        ("company=nobody", "company \"nobody\" is not a partner"),
        ("tenant=staging", "tenant must be live or test"),
        ("status=99", "status must be an HTTP status"),
        ("status=%2B200", "status must be an HTTP status"),
        ("since=2026-12-06", "since must be an RFC 3339 date-time"),
        ("until=%202026-12-06T06:00:00Z", "until must be an RFC 3339 date-time"),
        ("pageSize=501", "pageSize must be a whole number from 1 to 500"),
        ("tenant=live&tenant=test", "tenant must be given at most once"),
        // A partner's name mistyped: the one it nearly is.
        (
            "company=tirecompnay",
            "company \"tirecompnay\" is not a partner of this gateway: is it tirecompany?",
        ),
    ] {
        let (status, body) = app.ops_get(&format!("/batches?{query}"), &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap_or_default().contains(needle),
            "{query}: {body}"
        );
    }
    // A filter misspelt, or one a route does not take, is refused: a list answered whole as
    // though filtered would mislead.
    for (path, said) in [
        (
            "/batches?compnay=tirecompany",
            "\"compnay\" is not a parameter of this route: is it company?",
        ),
        (
            "/refused?sinc=2026-12-01T00:00:00Z",
            "\"sinc\" is not a parameter of this route: is it since?",
        ),
        (
            "/summary?day=7",
            "\"day\" is not a parameter of this route: is it days?",
        ),
        (
            "/partners?company=tirecompany",
            "\"company\" is not a parameter of this route (it reads none)",
        ),
        ("/server?x=1", "\"x\" is not a parameter of this route (it reads none)"),
    ] {
        let (status, body) = app.ops_get(path, &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(said), "{path}: {message}");
    }
    // A required parameter sent under another name: that name, and what it may be.
    for (query, said) in [
        (
            "invoice=I1",
            "\"invoice\" is not a parameter of this route: is it InvoiceNumber? (it reads InvoiceNumber, \
             ShopID, company, tenant, id)",
        ),
        ("InvoiceNumber=%20", "InvoiceNumber is required"),
        ("ShopID=S1", "InvoiceNumber is required"),
    ] {
        let (status, body) = app.ops_get(&format!("/records?{query}"), &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["message"], said, "{query}");
    }
}

/// An operator's token is the only way in; a partner's is refused here, and an operator's is
/// refused on a partner's routes.
#[tokio::test]
async fn only_an_operators_token_opens_the_operators_routes() {
    let app = spawn_app().await;
    let [first, ..] = three_batches(&app).await;
    let admin = operator_token(ADMIN, ADMIN_SECRET);
    assert_eq!(app.ops_get("/batches", &admin).await.0, StatusCode::OK);
    for (token, why) in [
        (token(), "a partner's token"),
        (
            operator_token(SUPPORT, ADMIN_SECRET),
            "signed with another operator's secret",
        ),
        (
            operator_token("mallory", SUPPORT_SECRET),
            "an operator nobody configured",
        ),
        (String::new(), "no token"),
    ] {
        let (status, body) = app.ops_get(&format!("/batches/{first}"), &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    }
    let (status, _) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .get_raw(COMPANY, &support(), "rec=registrations&ShopID=S1&InvoiceNumber=I1")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "an operator's token on a partner's route"
    );
    // Each is told which page its token is for.
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("it is an operator's token (its sub names one), for /ops and /console/ops")
    );
    let (_, body) = app.ops_get("/batches", &token()).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("(this one has a partnerid: a partner's token is for /v2/partners/... and /console)"),
        "{body}"
    );
}

/// The chart's figures: each UTC day's batches, records written and rejected, per partner and
/// tenant; `days` from 1 to 366.
#[tokio::test]
async fn the_summary_sums_each_day_per_partner_and_tenant() {
    let app = spawn_app().await;
    three_batches(&app).await;
    let more = json!({"Registrations": [registration("S1", "I3"), registration("S1", "I4")]});
    assert_eq!(
        app.post_raw(COMPANY, &token(), more.to_string()).await.status(),
        StatusCode::OK
    );
    let today = chrono::Utc::now().date_naive().to_string();
    let (status, body) = app.ops_get("/summary?days=1", &support()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = |company: &str, tenant: &str, batches: i64, written: i64, rejected: i64| {
        let partner_id = if company == COMPANY { PARTNER_ID } else { OTHER_ID };
        json!({"date": today, "company": company, "partner_id": partner_id, "tenant": tenant,
               "batches": batches, "records_written": written, "records_rejected": rejected})
    };
    assert_eq!(
        body["days"],
        json!([
            entry(COMPANY, "live", 2, 3, 1),
            entry(COMPANY, "test", 1, 1, 0),
            entry(OTHER, "live", 1, 1, 0)
        ])
    );
    let (_, body) = app.ops_get(&format!("/summary?company={OTHER}"), &support()).await;
    assert_eq!(body["days"], json!([entry(OTHER, "live", 1, 1, 0)]));
    for query in ["days=0", "days=367", "days=x", "company=nobody"] {
        let (status, body) = app.ops_get(&format!("/summary?{query}"), &support()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}

/// Each batch an operator opens is in the audit log (who, role, whose, which, from where),
/// which only an admin reads.
#[tokio::test]
async fn opening_a_batch_is_audited_and_only_admins_read_the_log() {
    let app = spawn_app().await;
    let [first, ..] = three_batches(&app).await;
    let admin = operator_token(ADMIN, ADMIN_SECRET);
    let (status, log) = app.ops_get("/audit", &admin).await;
    assert_eq!((status, log["total"].as_i64()), (StatusCode::OK, Some(0)), "{log}");
    // Listing is not audited; opening a batch is.
    assert_eq!(app.ops_get("/batches", &support()).await.0, StatusCode::OK);
    assert_eq!(
        app.ops_get(&format!("/batches/{first}"), &support()).await.0,
        StatusCode::OK
    );
    let (status, log) = app.ops_get("/audit", &admin).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["total"], 1);
    let entry = &log["items"][0];
    assert_eq!(
        (
            entry["operator"].as_str(),
            entry["role"].as_str(),
            entry["action"].as_str()
        ),
        (Some(SUPPORT), Some("support"), Some("batch_detail"))
    );
    assert_eq!(
        (entry["company"].as_str(), entry["tenant"].as_str()),
        (Some(COMPANY), Some("live"))
    );
    assert_eq!(entry["detail"], format!("batch {first}"));
    assert_eq!(entry["client"], "127.0.0.1");
    let (status, body) = app.ops_get("/audit", &support()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("for admins"),
        "{body}"
    );
}

#[tokio::test]
async fn partners_show_who_is_late_and_what_each_tenant_did_in_the_last_day() {
    let app = spawn_app().await;
    let partners = |body: &Value| -> Vec<Value> { body["partners"].as_array().unwrap().clone() };
    let (status, body) = app.ops_get("/partners", &support()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    crate::openapi::assert_valid(&crate::openapi::document(), "OpsPartners", &body);
    let listed = partners(&body);
    let quiet = json!({"last_batch_at": null, "late": false,
        "last_24h": {"batches": 0, "records_written": 0, "records_rejected": 0, "warnings": 0, "refused_requests": 0}});
    // tirecompany is due at midnight UTC and has sent nothing: late. othercompany is due at no
    // time: never late.
    assert_eq!(listed[0]["company"], COMPANY);
    assert_eq!(listed[0]["expected_upload_by"], "00:00");
    assert_eq!(
        listed[0]["upload_days"],
        json!(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    );
    assert_eq!(listed[0]["timezone"], "UTC");
    assert_eq!(listed[0]["live"]["late"], true);
    assert_eq!(listed[0]["test"], quiet);
    assert_eq!(listed[1]["company"], OTHER);
    assert_eq!(listed[1]["partner_id"], OTHER_ID);
    assert_eq!(listed[1]["timezone"], "America/Denver");
    assert_eq!(listed[1]["expected_upload_by"], Value::Null);
    assert_eq!(listed[1]["upload_days"], Value::Null);
    assert_eq!(listed[1]["live"], quiet);

    // A night: one live batch with a rejected record, a test batch, a refused request; and a
    // body othercompany sent that was refused whole (it came, but delivered nothing).
    let [first, ..] = three_batches(&app).await;
    let forged = sign(
        "not-the-secret-of-tirecompany-0123456789ab",
        json!({"partnerid": PARTNER_ID}),
    );
    let res = app.post_raw(COMPANY, &forged, "{}").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.post_raw(OTHER, &other_token(), "not json").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = partners(&app.ops_get("/partners", &support()).await.1);
        if listed[0]["live"]["last_24h"]["refused_requests"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let live = &listed[0]["live"];
    assert_eq!(live["late"], false, "{live}");
    assert_eq!(
        live["last_24h"],
        json!({"batches": 1, "records_written": 1, "records_rejected": 1, "warnings": 1, "refused_requests": 1})
    );
    let (_, first) = app.ops_get(&format!("/batches/{first}"), &support()).await;
    assert_eq!(live["last_batch_at"], first["received_at"]);
    assert_eq!(listed[0]["test"]["last_24h"]["batches"], 1);
    assert_eq!(listed[0]["test"]["late"], false);
    let other = &listed[1]["live"];
    assert_eq!(other["last_24h"]["batches"], 2, "{other}");
    assert_ne!(other["last_batch_at"], Value::Null);
}

/// Whether tirecompany's tenant `company` stores registration S1/I1 (200) or not (204).
async fn stored(app: &TestApp, company: &str) -> StatusCode {
    app.get(company, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await.0
}

#[tokio::test]
async fn an_admin_resets_a_partners_test_tenant_and_it_is_audited() {
    let app = spawn_app().await;
    let test = format!("{COMPANY}_test");
    let body = json!({"Registrations": [registration("S1", "I1")]});
    assert_eq!(app.post(&test, &body).await.0, StatusCode::OK);
    assert_eq!(app.post(COMPANY, &body).await.0, StatusCode::OK);
    let url = |company: &str| format!("{}/ops/partners/{company}/test", app.address);
    let delete = |company: &str, token: String| app.client.delete(url(company)).bearer_auth(token).send();

    // Support may not; nor may a partner; nothing is deleted.
    let res = delete(COMPANY, support()).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = delete(COMPANY, token()).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&app, &test).await, StatusCode::OK);
    let admin = operator_token(ADMIN, ADMIN_SECRET);
    let res = delete("nobody", admin.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.client.get(url(COMPANY)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "DELETE");

    // An admin may: the test tenant is empty, live is untouched.
    let res = delete("TireCompany", admin.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(stored(&app, &test).await, StatusCode::NO_CONTENT);
    assert_eq!(stored(&app, COMPANY).await, StatusCode::OK);
    let (_, page) = app
        .ops_get(&format!("/batches?company={COMPANY}&tenant=test"), &admin)
        .await;
    assert_eq!(page["total"], 0);
    let (_, log) = app.ops_get("/audit", &admin).await;
    let entry = &log["items"][0];
    assert_eq!(
        (
            &entry["action"],
            &entry["operator"],
            &entry["role"],
            &entry["company"],
            &entry["tenant"]
        ),
        (
            &json!("test_reset"),
            &json!(ADMIN),
            &json!("admin"),
            &json!(COMPANY),
            &json!("test")
        )
    );
    assert_eq!(log["total"], 1, "support's refusal is not an action: {log}");
}

#[tokio::test]
async fn the_operators_routes_refuse_in_their_own_shape() {
    let app = spawn_app().await;
    let doc = crate::openapi::document();
    for (path, token, status, code) in [
        (
            "/batches?status=99",
            support(),
            StatusCode::BAD_REQUEST,
            "bad_parameter",
        ),
        ("/batches", token(), StatusCode::UNAUTHORIZED, "unknown_operator"),
        ("/batches", "x".to_owned(), StatusCode::UNAUTHORIZED, "malformed_token"),
        ("/audit", support(), StatusCode::FORBIDDEN, "forbidden"),
        ("/batches/nope", support(), StatusCode::NOT_FOUND, "not_found"),
        ("/nothing-here", support(), StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, body) = app.ops_get(path, &token).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        crate::openapi::assert_valid(&doc, "OpsError", &body);
    }
    let res = app
        .client
        .post(format!("{}/ops/batches", app.address))
        .bearer_auth(support())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    let (_, body) = json_of(res).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
