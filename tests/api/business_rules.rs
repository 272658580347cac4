//! The guide's business rules, each with its rejection code, and every WarrantyStatus.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A registration enrolled on 2024-01-15 with 4 tires (tirecompany's plan: 36 months).
async fn registered(app: &TestApp, invoice: &str) {
    let (status, body) = app
        .post(COMPANY, &json!({"Registrations": [registration("S1", invoice)]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// POSTs one record and returns its result entry and the status code.
async fn post_one(app: &TestApp, array: &str, record: Value) -> (StatusCode, Value) {
    let (status, body) = app.post(COMPANY, &json!({ array: [record] })).await;
    (status, body[0].clone())
}

async fn rejected_with(app: &TestApp, array: &str, record: Value, field: &str, code: &str) {
    let (status, entry) = post_one(app, array, record).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{entry}");
    assert_eq!(errors_of(&entry), vec![(field.to_owned(), code.to_owned())], "{entry}");
}

#[tokio::test]
async fn a_claim_needs_its_registration() {
    let app = spawn_app().await;
    let c = claim("S1", "NOPE", "R1", 1, "2024-03-01");
    rejected_with(&app, "Claims", c, "InvoiceNumber", "registration_not_found").await;
}

/// A claim or cancellation that finds no registration is told where the partner has it: at
/// another shop with the same InvoiceNumber (a ShopID sent without its leading zeros), or in
/// its other tenant.
#[tokio::test]
async fn a_registration_not_found_is_said_to_be_where_the_partner_has_it() {
    let app = spawn_app().await;
    let registrations = json!({"Registrations": [registration("005308", "I7"), registration("005309", "I7")]});
    assert_eq!(app.post(COMPANY, &registrations).await.0, StatusCode::OK);
    let sandbox = json!({"Registrations": [registration("S1", "I8")]});
    assert_eq!(app.post(&format!("{COMPANY}_test"), &sandbox).await.0, StatusCode::OK);
    let message = |entry: &Value| entry["Errors"][0]["Message"].as_str().unwrap().to_owned();
    let (status, res) = app
        .post(
            COMPANY,
            &json!({
                "Claims": [claim("5308", "I7", "R1", 1, "2024-03-01"), claim("S1", "I8", "R1", 1, "2024-03-01"),
                           claim("S1", "NOWHERE", "R1", 1, "2024-03-01")],
                "Cancellations": [cancellation("5308", "I7", "C1", 1, "2024-03-03")],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    let shops = "; InvoiceNumber \"I7\" is registered at ShopID \"005308\", \"005309\"";
    assert!(message(&res[0]).ends_with(shops), "{res}");
    assert!(
        message(&res[1]).ends_with("; your test tenant has this registration"),
        "{res}"
    );
    assert_eq!(
        message(&res[2]),
        "no registration with ShopID \"S1\" and InvoiceNumber \"NOWHERE\"; send the registration first \
         (or earlier in the same batch)"
    );
    assert!(message(&res[3]).ends_with(shops), "{res}");
    for entry in res.as_array().unwrap() {
        assert_eq!(
            errors_of(entry),
            vec![("InvoiceNumber".into(), "registration_not_found".into())]
        );
    }
}

/// A GET of a registration or its status that matches nothing is still a 204, but says where
/// the partner has the registration in `X-Registered-Elsewhere`.
#[tokio::test]
async fn a_lookup_that_finds_no_registration_says_where_the_partner_has_it() {
    let app = spawn_app().await;
    let mut org = registration("005308", "I7");
    org["OrgID"] = json!("ORG1");
    let registrations = json!({"Registrations": [org, registration("005309", "I7")]});
    assert_eq!(app.post(COMPANY, &registrations).await.0, StatusCode::OK);
    let sandbox = json!({"Registrations": [registration("S1", "I8")]});
    assert_eq!(app.post(&format!("{COMPANY}_test"), &sandbox).await.0, StatusCode::OK);
    let elsewhere =
        |res: &reqwest::Response| (res.headers().get("x-registered-elsewhere")).map(|v| v.to_str().unwrap().to_owned());
    for (company, query, said) in [
        (
            COMPANY,
            "rec=registrationstatus&ShopID=5308&InvoiceNumber=I7",
            Some(r#"InvoiceNumber "I7" is registered at ShopID "005308", "005309""#),
        ),
        (
            COMPANY,
            "rec=registrations&ShopID=5308&InvoiceNumber=I7",
            Some(r#"InvoiceNumber "I7" is registered at ShopID "005308", "005309""#),
        ),
        (
            COMPANY,
            "rec=registrations&ShopID=005308&InvoiceNumber=I7&OrgID=ORG2",
            Some(
                r#"ShopID "005308" has InvoiceNumber "I7" under another OrgID; InvoiceNumber "I7" is registered at ShopID "005309""#,
            ),
        ),
        (
            COMPANY,
            "rec=registrationstatus&ShopID=S1&InvoiceNumber=I8",
            Some("your test tenant has this registration"),
        ),
        // Nothing anywhere; a claim not found says nothing of registrations; another partner
        // is never told.
        (COMPANY, "rec=registrationstatus&ShopID=S1&InvoiceNumber=NOWHERE", None),
        (COMPANY, "rec=claims&ShopID=5308&InvoiceNumber=I7", None),
        (OTHER, "rec=registrationstatus&ShopID=5308&InvoiceNumber=I7", None),
    ] {
        let token = if company == OTHER { other_token() } else { token() };
        let res = app.get_raw(company, &token, query).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{query}");
        assert_eq!(elsewhere(&res).as_deref(), said, "{company} {query}");
        assert_eq!(res.bytes().await.unwrap().len(), 0);
    }
    // A match has no such header.
    let res = app
        .get_raw(
            COMPANY,
            &token(),
            "rec=registrationstatus&ShopID=005309&InvoiceNumber=I7",
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(elsewhere(&res), None);
}

/// Past the first hundred different registrations a batch did not find, the rest are refused
/// without looking further: a batch of orphans costs a bounded number of lookups.
#[tokio::test]
async fn only_the_first_hundred_registrations_not_found_are_looked_for_elsewhere() {
    let app = spawn_app().await;
    let registrations: Vec<Value> = (0..150).map(|i| registration("00S", &format!("J{i}"))).collect();
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": registrations})).await.0,
        StatusCode::OK
    );
    let claims: Vec<Value> = (0..150)
        .map(|i| claim("S", &format!("J{i}"), "R1", 1, "2024-03-01"))
        .collect();
    let (_, res) = app.post(COMPANY, &json!({"Claims": claims})).await;
    let hinted = (res.as_array().unwrap().iter())
        .filter(|e| {
            e["Errors"][0]["Message"]
                .as_str()
                .unwrap()
                .contains("is registered at ShopID \"00S\"")
        })
        .count();
    assert_eq!(hinted, 100);
}

#[tokio::test]
async fn a_claim_cannot_take_more_tires_than_are_left_and_a_resend_does_not_count_twice() {
    let app = spawn_app().await;
    registered(&app, "I1").await;
    let first = claim("S1", "I1", "R1", 3, "2024-03-01");
    assert_eq!(post_one(&app, "Claims", first.clone()).await.0, StatusCode::OK);
    // A resend of the same claim (same key) replaces it: still 3 claimed, not 6.
    let (status, entry) = post_one(&app, "Claims", with(first, json!({"CreditAmount": 70}))).await;
    assert_eq!((status, entry["Action"].as_str()), (StatusCode::OK, Some("updated")));
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await["TiresLeft"], 1);

    let (status, entry) = post_one(&app, "Claims", claim("S1", "I1", "R2", 2, "2024-04-01")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors_of(&entry),
        vec![("TireClaimCount".into(), "not_enough_tires".into())]
    );
    assert!(
        entry["Errors"][0]["Message"]
            .as_str()
            .unwrap()
            .contains("the 1 tires left"),
        "{entry}"
    );
    assert_eq!(
        post_one(&app, "Claims", claim("S1", "I1", "R2", 1, "2024-04-01"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_claim_on_an_expired_registration_is_rejected_as_of_its_claim_date() {
    let app = spawn_app().await;
    registered(&app, "I1").await;
    // Enrolled 2024-01-15 on a 36-month plan: expires 2027-01-15.
    let late = claim("S1", "I1", "R1", 1, "2027-01-16");
    rejected_with(&app, "Claims", late, "ClaimDate", "registration_expired").await;
    // ExpireDate itself is still within the plan.
    assert_eq!(
        post_one(&app, "Claims", claim("S1", "I1", "R1", 1, "2027-01-15"))
            .await
            .0,
        StatusCode::OK
    );
    // A claim dated within the term is judged as of its own date, however late it arrives.
    let old = with(registration("S1", "OLD"), json!({"PlanEnrollDate": "2018-12-04"}));
    assert_eq!(post_one(&app, "Registrations", old).await.0, StatusCode::OK);
    assert_eq!(
        post_one(&app, "Claims", claim("S1", "OLD", "R1", 1, "2020-01-27"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_claim_on_a_cancelled_registration_is_rejected_but_remaining_tires_can_be_claimed() {
    let app = spawn_app().await;
    registered(&app, "FULL").await;
    let all = cancellation("S1", "FULL", "C1", 4, "2024-02-01");
    assert_eq!(post_one(&app, "Cancellations", all).await.0, StatusCode::OK);
    let c = claim("S1", "FULL", "R1", 1, "2024-03-01");
    rejected_with(&app, "Claims", c, "InvoiceNumber", "registration_cancelled").await;

    registered(&app, "PART").await;
    let some = cancellation("S1", "PART", "C2", 1, "2024-02-01");
    assert_eq!(post_one(&app, "Cancellations", some).await.0, StatusCode::OK);
    assert_eq!(
        post_one(&app, "Claims", claim("S1", "PART", "R1", 3, "2024-03-01"))
            .await
            .0,
        StatusCode::OK
    );
    let c = claim("S1", "PART", "R2", 1, "2024-03-02");
    rejected_with(&app, "Claims", c, "InvoiceNumber", "registration_cancelled").await;
}

#[tokio::test]
async fn a_cancellation_needs_its_registration_unexpired_with_enough_tires() {
    let app = spawn_app().await;
    let orphan = cancellation("S1", "NOPE", "C1", 1, "2024-03-01");
    rejected_with(&app, "Cancellations", orphan, "InvoiceNumber", "registration_not_found").await;

    registered(&app, "I1").await;
    let late = cancellation("S1", "I1", "C1", 1, "2027-02-01");
    rejected_with(&app, "Cancellations", late, "CancelDate", "registration_expired").await;

    assert_eq!(
        post_one(&app, "Claims", claim("S1", "I1", "R1", 3, "2024-03-01"))
            .await
            .0,
        StatusCode::OK
    );
    let too_many = cancellation("S1", "I1", "C1", 2, "2024-04-01");
    rejected_with(&app, "Cancellations", too_many, "TireCancelCount", "not_enough_tires").await;
}

#[tokio::test]
async fn a_registration_is_cancelled_only_once_and_a_resend_updates_it() {
    let app = spawn_app().await;
    registered(&app, "I1").await;
    let first = cancellation("S1", "I1", "C1", 1, "2024-02-01");
    assert_eq!(post_one(&app, "Cancellations", first.clone()).await.0, StatusCode::OK);
    // Same key: an update, and its count replaces the first (1 -> 3, not 4).
    let (status, entry) = post_one(&app, "Cancellations", with(first, json!({"TireCancelCount": 3}))).await;
    assert_eq!((status, entry["Action"].as_str()), (StatusCode::OK, Some("updated")));
    let st = app.status_of(COMPANY, "S1", "I1").await;
    assert_eq!(
        (st["TireCancelCount"].as_i64(), st["TiresLeft"].as_i64()),
        (Some(3), Some(1))
    );

    let second = cancellation("S1", "I1", "C2", 1, "2024-02-02");
    rejected_with(
        &app,
        "Cancellations",
        second,
        "CancelInvoiceNumber",
        "already_cancelled",
    )
    .await;
}

#[tokio::test]
async fn a_resent_registration_must_still_cover_what_was_used() {
    let app = spawn_app().await;
    registered(&app, "I1").await;
    assert_eq!(
        post_one(&app, "Claims", claim("S1", "I1", "R1", 3, "2024-03-01"))
            .await
            .0,
        StatusCode::OK
    );
    let fewer = with(registration("S1", "I1"), json!({"TiresCovered": 2}));
    rejected_with(&app, "Registrations", fewer, "TiresCovered", "tires_covered_below_used").await;
    let more = with(registration("S1", "I1"), json!({"TiresCovered": 6}));
    assert_eq!(post_one(&app, "Registrations", more).await.0, StatusCode::OK);
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await["TiresLeft"], 3);
}

#[tokio::test]
async fn one_batch_may_register_claim_and_cancel_in_processing_order() {
    let app = spawn_app().await;
    // Claims come after Registrations whatever the order of the arrays in the body.
    let body = json!({
        "Cancellations": [cancellation("S1", "I1", "C1", 1, "2024-03-02")],
        "Claims": [claim("S1", "I1", "R1", 2, "2024-03-01"), claim("S1", "I1", "R2", 2, "2024-03-01")],
        "Registrations": [registration("S1", "I1")],
    });
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{res}");
    let summary: Vec<(&str, &str)> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["Record"].as_str().unwrap(), e["Status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Registrations", "Successfully Posted"),
            ("Claims", "Successfully Posted"),
            ("Claims", "Successfully Posted"),
            // Both claims took all 4 tires: nothing is left to cancel.
            ("Cancellations", "Rejected"),
        ]
    );
    assert_eq!(
        errors_of(&res[3]),
        vec![("TireCancelCount".to_owned(), "not_enough_tires".to_owned())]
    );
}

#[tokio::test]
async fn every_warranty_status() {
    let app = spawn_app().await;
    let day = |days_ago: i64| (chrono::Utc::now().date_naive() - chrono::Days::new(days_ago as u64)).to_string();
    let midnight = |days_ago: i64| format!("{}T00:00:00Z", day(days_ago));
    let fresh = |invoice: &str| with(registration("S1", invoice), json!({"PlanEnrollDate": day(10)}));
    let body = json!({
        "Registrations": [
            fresh("ACTIVE"),
            fresh("CANCELLED"),
            fresh("USED"),
            with(registration("S1", "EXPIRED"), json!({"PlanEnrollDate": "2018-12-04"})),
        ],
        "Claims": [
            claim("S1", "CANCELLED", "R1", 2, &day(9)),
            claim("S1", "USED", "R1", 1, &day(8)),
            claim("S1", "USED", "R2", 3, &day(7)),
        ],
        "Cancellations": [cancellation("S1", "CANCELLED", "C1", 2, &day(6))],
    });
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::OK, "{res}");

    let s = app.status_of(COMPANY, "S1", "ACTIVE").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(1), &json!("Registration is Active"))
    );
    assert_eq!(
        (&s["TiresLeft"], &s["StatusDate"], &s["CancelDate"]),
        (&json!(4), &json!(""), &json!(""))
    );
    let expire = (chrono::Utc::now().date_naive() - chrono::Days::new(10) + chrono::Months::new(36)).to_string();
    assert_eq!(s["ExpireDate"], format!("{expire}T00:00:00Z"));

    let s = app.status_of(COMPANY, "S1", "CANCELLED").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(2), &json!("Registration is Cancelled"))
    );
    assert_eq!(
        (&s["TireClaimCount"], &s["TireCancelCount"], &s["TiresLeft"]),
        (&json!(2), &json!(2), &json!(0))
    );
    // StatusDate is the CancelDate.
    assert_eq!(
        (&s["CancelDate"], &s["StatusDate"]),
        (&json!(midnight(6)), &json!(midnight(6)))
    );

    let s = app.status_of(COMPANY, "S1", "USED").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(3), &json!("No Tires left on Registration"))
    );
    // StatusDate is the latest ClaimDate.
    assert_eq!((&s["TiresLeft"], &s["StatusDate"]), (&json!(0), &json!(midnight(7))));

    let s = app.status_of(COMPANY, "S1", "EXPIRED").await;
    assert_eq!(
        (&s["WarrantyStatus"], &s["Message"]),
        (&json!(4), &json!("Registration is Expired"))
    );
    assert_eq!(
        (&s["ExpireDate"], &s["StatusDate"]),
        (&json!("2021-12-04T00:00:00Z"), &json!("2021-12-04T00:00:00Z"))
    );

    // ExpireDate follows each partner's plan term: othercompany sells 12-month plans.
    let reg = with(
        registration("S1", "OTHER"),
        json!({"PlanEnrollDate": "2024-01-15T00:00:00Z"}),
    );
    assert_eq!(
        app.post(OTHER, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    let s = app.status_of(OTHER, "S1", "OTHER").await;
    assert_eq!(
        (&s["PartnerID"], &s["ExpireDate"]),
        (&json!(OTHER_ID), &json!("2025-01-15T00:00:00Z"))
    );
    assert_eq!(s["WarrantyStatus"], 4);
}

/// How many registrations' kept totals (migration V6: a row beside the registration, for the
/// status answer; none when it has neither claims nor cancellations) differ from what their
/// claims and cancellations add up to.
const TOTALS_OFF: &str = "SELECT count(*) FROM registrations r \
    LEFT JOIN registration_totals t ON t.registration_id = r.id WHERE \
    COALESCE(t.tires_claimed, 0) <> (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = r.id) \
    OR t.latest_claim_date IS DISTINCT FROM (SELECT MAX(claim_date) FROM claims WHERE registration_id = r.id) \
    OR COALESCE(t.tires_cancelled, 0) <> (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = r.id) \
    OR t.first_cancellation_id IS DISTINCT FROM (SELECT MIN(id) FROM cancellations WHERE registration_id = r.id)";

#[tokio::test]
async fn the_totals_kept_on_a_registration_follow_every_write_to_its_claims_and_cancellations() {
    let app = spawn_app().await;
    let day = |days_ago: u64| (chrono::Utc::now().date_naive() - chrono::Days::new(days_ago)).to_string();
    let midnight = |days_ago: u64| format!("{}T00:00:00Z", day(days_ago));
    let fresh = |invoice: &str| with(registration("S1", invoice), json!({"PlanEnrollDate": day(30)}));
    let usage = |s: &Value| {
        [
            "TireClaimCount",
            "TireCancelCount",
            "TiresLeft",
            "WarrantyStatus",
            "StatusDate",
        ]
        .map(|k| s[k].clone())
    };
    let first = json!({
        "Registrations": [fresh("A"), fresh("B"), fresh("C")],
        "Claims": [claim("S1", "A", "R1", 1, &day(20)), claim("S1", "A", "R2", 1, &day(10))],
        "Cancellations": [cancellation("S1", "B", "X1", 2, &day(5))],
    });
    let (status, res) = app.post(COMPANY, &first).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(app.query_i64(TOTALS_OFF), 0);
    let kept = "SELECT count(*) FROM registration_totals WHERE tires_claimed > 0 OR tires_cancelled > 0";
    assert_eq!(app.query_i64(kept), 2);
    let a = app.status_of(COMPANY, "S1", "A").await;
    assert_eq!(usage(&a), [json!(2), json!(0), json!(2), json!(1), json!("")]);
    let b = app.status_of(COMPANY, "S1", "B").await;
    assert_eq!(usage(&b), [json!(0), json!(2), json!(2), json!(1), json!("")]);
    assert_eq!(b["CancelDate"], midnight(5));

    // A claim sent again with another count and date counts once, with its new values.
    let (status, res) = app
        .post(COMPANY, &json!({"Claims": [claim("S1", "A", "R1", 3, &day(3))]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let a = app.status_of(COMPANY, "S1", "A").await;
    assert_eq!(usage(&a), [json!(4), json!(0), json!(0), json!(3), json!(midnight(3))]);
    // So does a cancellation.
    let (status, res) = app
        .post(
            COMPANY,
            &json!({"Cancellations": [cancellation("S1", "B", "X1", 4, &day(4))]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let b = app.status_of(COMPANY, "S1", "B").await;
    assert_eq!(usage(&b), [json!(0), json!(4), json!(0), json!(2), json!(midnight(4))]);
    assert_eq!(app.query_i64(TOTALS_OFF), 0);

    // v3's cancel writes a v2 cancellation of the tires left.
    let today = chrono::Utc::now().format("%Y-%m-%dT12:00:00.000Z").to_string();
    let (status, body) = app
        .v3_patch(
            "/tire-protection/registrations?invoiceNumber=C",
            &v3_token(),
            &json!({"cancelledOn": today}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let c = app.status_of(COMPANY, "S1", "C").await;
    assert_eq!(usage(&c)[..3], [json!(0), json!(4), json!(0)]);
    assert_eq!(c["WarrantyStatus"], 2, "{c}");
    assert_eq!(app.query_i64(TOTALS_OFF), 0);

    // The test tenant's reset deletes its claims and cancellations with its registrations; the
    // live tenant's are untouched.
    let (status, res) = app.post("tirecompany_test", &first).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(app.query_i64(kept), 5);
    assert_eq!(app.query_i64(TOTALS_OFF), 0);
    app.reset_test_tenant().await;
    assert_eq!(app.query_i64(kept), 3);
    assert_eq!(app.query_i64(TOTALS_OFF), 0);
    let a = app.status_of(COMPANY, "S1", "A").await;
    assert_eq!(usage(&a), [json!(4), json!(0), json!(0), json!(3), json!(midnight(3))]);
}
