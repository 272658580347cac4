//! The batch history (`/batches`) and the test-tenant reset.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const TEST: &str = "tirecompany_test";

async fn batches(app: &TestApp, company: &str, query: &str) -> Value {
    let url = format!("{}/batches?{query}", app.url(company));
    let token = if company.starts_with(OTHER) {
        other_token()
    } else {
        token()
    };
    let (status, body) = json_of(app.client.get(url).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn every_post_is_recorded_newest_first_with_its_rejected_records() {
    let app = spawn_app_with_limit(64 * 1024).await;
    // A 206: one registration written, one rejected, one claim rejected by a business rule.
    let body = json!({
        "Registrations": [registration("S1", "I1"), with(registration("S1", "I2"), json!({"TiresCovered": null}))],
        "Claims": [claim("S1", "NOPE", "R1", 1, "2024-03-01")],
    });
    let res = app.post_raw(TEST, &token(), body.to_string()).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let batch_id: i64 = res.headers()["x-batch-id"].to_str().unwrap().parse().unwrap();
    let answered: Value = res.json().await.unwrap();
    // A body refused whole, and one over the limit.
    assert_eq!(
        app.post_raw(TEST, &token(), "not json").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post_raw(TEST, &token(), vec![b' '; 70_000]).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A live batch, which the test history must not show.
    assert_eq!(
        app.post(COMPANY, &json!({"Sales": [sale("S1", "I1")]})).await.0,
        StatusCode::OK
    );

    let page = batches(&app, TEST, "").await;
    assert_eq!(
        (&page["Tenant"], &page["Total"], &page["Page"], &page["PageSize"]),
        (&json!("test"), &json!(3), &json!(1), &json!(50))
    );
    let list = page["Batches"].as_array().unwrap();
    let statuses: Vec<&Value> = list.iter().map(|b| &b["Status"]).collect();
    assert_eq!(statuses, [&json!(413), &json!(400), &json!(206)]);
    assert!(
        list[0]["Error"].as_str().unwrap().contains("larger than the limit"),
        "{}",
        list[0]
    );
    assert!(
        list[1]["Error"].as_str().unwrap().contains("not usable JSON"),
        "{}",
        list[1]
    );
    let partial = &list[2];
    assert_eq!(partial["BatchID"], batch_id);
    assert_eq!(partial["Error"], Value::Null);
    assert_eq!(
        partial["Records"],
        json!({
            "Registrations": {"Accepted": 1, "Rejected": 1}, "Sales": {"Accepted": 0, "Rejected": 0},
            "Claims": {"Accepted": 0, "Rejected": 1}, "Cancellations": {"Accepted": 0, "Rejected": 0},
        })
    );
    assert_eq!(partial["Bytes"], body.to_string().len());
    assert!(partial["ReceivedAt"].as_str().unwrap().ends_with('Z'));
    assert!(partial["DurationMs"].is_u64());

    // One batch: its rejected records are the very entries the response carried.
    let (status, detail) = app.batch(TEST, &partial["BatchID"]).await;
    assert_eq!(status, StatusCode::OK);
    let rejected_in_response: Vec<&Value> = answered
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["Status"] == "Rejected")
        .collect();
    let recorded: Vec<&Value> = detail["RejectedRecords"].as_array().unwrap().iter().collect();
    assert_eq!(recorded, rejected_in_response);
    assert_eq!(detail["Status"], 206);
    // The body-level 400 keeps its one entry.
    let (_, refused) = app.batch(TEST, &list[1]["BatchID"]).await;
    assert_eq!(refused["RejectedRecords"][0]["Errors"][0]["Code"], "invalid_json");

    // Live sees only its own batch.
    let live = batches(&app, COMPANY, "").await;
    assert_eq!(
        (&live["Total"], &live["Batches"][0]["Status"]),
        (&json!(1), &json!(200))
    );
    assert_eq!(app.batch(COMPANY, &partial["BatchID"]).await.0, StatusCode::NOT_FOUND);
}

/// Support can see the next morning that every record of a batch carried a misspelt field,
/// though each was written: the history counts the batch's warnings by field and kind.
#[tokio::test]
async fn a_batchs_warnings_are_kept_counted_by_record_type_field_and_kind() {
    let app = spawn_app().await;
    let colour = json!({"Colour": "red"});
    let registrations = [
        with(registration("S1", "W1"), colour.clone()),
        with(
            registration("S1", "W2"),
            json!({"Colour": "blue", "TiresCovered": null}),
        ),
        registration("S1", "W3"),
    ];
    // A sale sending TireBrand twice, and money as a float a hair off the cent.
    let odd_sale = (sale("S1", "W1").to_string())
        .replacen('{', r#"{"TireBrand": "BFG", "#, 1)
        .replace("225.09", "0.30000000000000004");
    let body = format!(
        r#"{{"Registrations": {}, "Sales": [{odd_sale}]}}"#,
        Value::from(registrations.to_vec())
    );
    let res = app.post_raw(TEST, &token(), body).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let batch_id: i64 = res.headers()["x-batch-id"].to_str().unwrap().parse().unwrap();
    let answered: Value = res.json().await.unwrap();
    let said: usize = (answered.as_array().unwrap().iter())
        .map(|e| e["Warnings"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(said, 4, "{answered}");
    // And a batch without any.
    assert_eq!(
        app.post(TEST, &json!({"Sales": [sale("S2", "W9")]})).await.0,
        StatusCode::OK
    );

    let page = batches(&app, TEST, "").await;
    let warnings: Vec<&Value> = page["Batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["Warnings"])
        .collect();
    assert_eq!(warnings, [&json!(0), &json!(4)]);
    let (status, detail) = app.batch(TEST, batch_id).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["WarningCounts"],
        json!([
            {"Record": "Registrations", "Field": "Colour", "Code": "unknown_field", "Count": 2, "FirstIndex": 0,
             "Message": "unknown field \"Colour\" was ignored"},
            {"Record": "Sales", "Field": "TireBrand", "Code": "repeated_field", "Count": 1, "FirstIndex": 0,
             "Message": "TireBrand was sent twice with different values (\"BFG\", then \"SUM\"): the last was kept"},
            {"Record": "Sales", "Field": "TirePrice", "Code": "rounded_money", "Count": 1, "FirstIndex": 0,
             "Message": "TirePrice 0.30000000000000004 was taken as 0.30 (a binary floating-point value within 1e-9 of a whole cent)"},
        ])
    );
    let (_, quiet) = app.batch(TEST, page["Batches"][0]["BatchID"].clone()).await;
    assert_eq!(quiet["WarningCounts"], json!([]));
    let doc = crate::openapi::document();
    crate::openapi::assert_valid(&doc, "BatchPage", &page);
    crate::openapi::assert_valid(&doc, "BatchDetail", &detail);

    // Support sees the same, in the operators' words.
    let support = support();
    let (status, listed) = app.ops_get("/batches?tenant=test", &support).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["items"][1]["warnings"], 4);
    let (_, ops) = app.ops_get(&format!("/batches/{batch_id}"), &support).await;
    assert_eq!(
        ops["warning_counts"][0],
        json!({"record": "Registrations", "field": "Colour", "code": "unknown_field", "count": 2,
               "first_index": 0, "message": "unknown field \"Colour\" was ignored"})
    );
    assert_eq!(ops["warning_counts"].as_array().unwrap().len(), 3);
    crate::openapi::assert_valid(&doc, "OpsBatchPage", &listed);
    crate::openapi::assert_valid(&doc, "OpsBatchDetail", &ops);
}

#[tokio::test]
async fn the_history_is_paginated_and_isolated() {
    let app = spawn_app().await;
    for i in 0..5 {
        let body = json!({"Sales": [sale("S1", &format!("P{i}"))]});
        assert_eq!(app.post(TEST, &body).await.0, StatusCode::OK);
    }
    let first = batches(&app, TEST, "page=1&PAGESIZE=2").await;
    let second = batches(&app, TEST, "Page=2&pagesize=2").await;
    let third = batches(&app, TEST, "page=3&pageSize=2").await;
    let ids = |p: &Value| {
        p["Batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["BatchID"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let all: Vec<i64> = [ids(&first), ids(&second), ids(&third)].concat();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    assert_eq!(first["Total"], 5);
    assert!(
        batches(&app, TEST, "page=4&pageSize=2").await["Batches"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The paging parameters are the gateway's own, and strict: empty is no number, and one
    // value each (what openapi.yaml says).
    for bad in [
        "page=0",
        "page=x",
        "pageSize=0",
        "pageSize=501",
        "pageSize=-1",
        "pageSize=",
        "page=4294967296",
        "page=1&page=2",
        "pageSize=5&PAGESIZE=5",
    ] {
        let res = app.get_url(&format!("{}/batches?{bad}", app.url(TEST)), &token()).await;
        let (status, body) = json_of(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let name = bad.split('=').next().unwrap();
        assert!(body["Error"].as_str().unwrap().contains(name), "{body}");
    }

    // Another partner sees none of it, through its own company or this one.
    assert_eq!(batches(&app, "othercompany_test", "").await["Total"], 0);
    let res = app.get_url(&format!("{}/batches", app.url(TEST)), &other_token()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .get_url(
            &format!("{}/batches/{}", app.url("othercompany_test"), all[0]),
            &other_token(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .get(format!("{}/batches", app.url(TEST)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_partner_lists_its_partial_batches_by_status_and_time() {
    let app = spawn_app().await;
    let half = json!({"Registrations": [registration("S1", "I1"), with(registration("S1", "I2"), json!({"TiresCovered": null}))]});
    assert_eq!(
        app.post(TEST, &json!({"Sales": [sale("S1", "P0")]})).await.0,
        StatusCode::OK
    );
    assert_eq!(app.post(TEST, &half).await.0, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        app.post(TEST, &json!({"Sales": [sale("S1", "P1")]})).await.0,
        StatusCode::OK
    );
    // Another partner's partial batch is its own.
    let res = app
        .post_raw("othercompany_test", &other_token(), half.to_string())
        .await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);

    let partial = batches(&app, TEST, "status=206").await;
    assert_eq!(partial["Total"], 1, "{partial}");
    assert_eq!(partial["Batches"][0]["Status"], 206);
    assert_eq!(partial["Batches"][0]["Records"]["Registrations"]["Rejected"], 1);
    let all = batches(&app, TEST, "").await;
    assert_eq!(all["Total"], 3);

    // since and until, both included, with the status or without.
    let at = all["Batches"][1]["ReceivedAt"].as_str().unwrap().to_owned();
    for (query, total) in [
        (format!("since={at}&until={at}&status=206"), 1),
        (
            "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B02:00".to_owned(),
            3,
        ),
        ("since=2999-01-01T00:00:00Z".to_owned(), 0),
        ("until=2000-01-01T00:00:00-05:00".to_owned(), 0),
        ("status=400".to_owned(), 0),
    ] {
        assert_eq!(batches(&app, TEST, &query).await["Total"], total, "{query}");
    }

    // A filter misspelt, or one it does not take, is refused, not answered as the whole list.
    for (bad, said) in [
        ("staus=206", "\"staus\" is not a parameter of this route: is it status?"),
        (
            "company=tirecompany",
            "\"company\" is not a parameter of this route (it reads page, pageSize",
        ),
        ("status=abc", "status must be an HTTP status from 100 to 599"),
        ("since=yesterday", "since must be an RFC 3339 date-time"),
        ("status=206&status=200", "status must be given at most once"),
    ] {
        let res = app.get_url(&format!("{}/batches?{bad}", app.url(TEST)), &token()).await;
        let (status, body) = json_of(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["Error"].as_str().unwrap().starts_with(said), "{bad}: {body}");
    }
}

#[tokio::test]
async fn old_history_is_pruned_as_new_batches_arrive() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(TEST, &json!({"Sales": [sale("S1", "OLD")]})).await.0,
        StatusCode::OK
    );
    // Age the entry past the 30-day retention.
    app.execute_sql("UPDATE batches SET received_at = '2020-01-01T00:00:00.000000Z'");
    assert_eq!(batches(&app, TEST, "").await["Total"], 1);
    assert_eq!(
        app.post(COMPANY, &json!({"Sales": [sale("S1", "NEW")]})).await.0,
        StatusCode::OK
    );
    assert_eq!(batches(&app, TEST, "").await["Total"], 0);
    // The trail of its records goes with it.
    assert_eq!(app.query_i64("SELECT count(*) FROM batch_records"), 1);
    // The records themselves are kept: only the history ages out.
    assert_eq!(
        app.get(TEST, "rec=sales&ShopID=S1&InvoiceNumber=OLD").await.0,
        StatusCode::OK
    );
}

/// A stored status that is no HTTP status is not shown as some number: the list is a 500 that
/// says nothing of it, and the log names it.
#[tokio::test]
async fn a_stored_status_that_is_no_http_status_is_not_listed_as_one() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(COMPANY, &json!({"Sales": [sale("S1", "I1")]})).await.0,
        StatusCode::OK
    );
    assert_eq!(batches(&app, COMPANY, "").await["Batches"][0]["Status"], 200);
    app.execute_sql("UPDATE batches SET status = 0");
    let url = format!("{}/batches", app.url(COMPANY));
    let (status, body) = json_of(app.client.get(url).bearer_auth(token()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.to_string().contains("internal error"), "{body}");
    assert!(!body.to_string().contains("HTTP status"), "{body}");
}

#[tokio::test]
async fn delete_resets_the_test_tenant_only() {
    let app = spawn_app().await;
    let body = json!({
        "Registrations": [registration("S1", "I1")],
        "Sales": [sale("S1", "I1")],
        "Claims": [claim("S1", "I1", "R1", 1, "2024-03-01")],
        "Cancellations": [cancellation("S1", "I1", "C1", 1, "2024-03-02")],
    });
    assert_eq!(app.post(TEST, &body).await.0, StatusCode::OK);
    assert_eq!(app.post(COMPANY, &body).await.0, StatusCode::OK);
    assert_eq!(app.post("othercompany_test", &body).await.0, StatusCode::OK);

    // On live: refused, nothing deleted.
    let res = app
        .client
        .delete(app.url(COMPANY))
        .bearer_auth(token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, HEAD, POST");
    assert!(json_of(res).await.1["Error"].as_str().unwrap().contains("_test"));
    // Without a valid token: refused.
    let res = app
        .client
        .delete(app.url(TEST))
        .bearer_auth(other_token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(TEST, "rec=claims&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::OK
    );

    let res = app
        .client
        .delete(app.url(TEST))
        .bearer_auth(token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for rec in [
        "registrations",
        "claims",
        "sales",
        "cancellations",
        "registrationstatus",
    ] {
        let q = format!("rec={rec}&ShopID=S1&InvoiceNumber=I1");
        assert_eq!(app.get(TEST, &q).await.0, StatusCode::NO_CONTENT, "{rec} on test");
        assert_eq!(app.get(COMPANY, &q).await.0, StatusCode::OK, "{rec} on live");
        assert_eq!(
            app.get("othercompany_test", &q).await.0,
            StatusCode::OK,
            "{rec} of another partner"
        );
    }
    assert_eq!(batches(&app, TEST, "").await["Total"], 0);
    assert_eq!(batches(&app, COMPANY, "").await["Total"], 1);
    // A reset tenant takes the same records again as new.
    let (_, res) = app.post(TEST, &body).await;
    assert_eq!(res[0]["Action"], "inserted");
}
