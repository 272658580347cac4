//! The sample nightly batches of fixtures/samples (see generate.py there for what each holds).

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// (accepted, rejected) per record type of a response.
fn counts(res: &Value) -> BTreeMap<String, (usize, usize)> {
    let mut counts = BTreeMap::new();
    for entry in res.as_array().unwrap() {
        let c = counts
            .entry(entry["Record"].as_str().unwrap().to_owned())
            .or_insert((0, 0));
        match entry["Status"].as_str().unwrap() {
            "Successfully Posted" => c.0 += 1,
            _ => c.1 += 1,
        }
    }
    counts
}

fn expect(pairs: &[(&str, (usize, usize))]) -> BTreeMap<String, (usize, usize)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn the_clean_night_is_written_whole_and_a_resend_changes_nothing() {
    let app = spawn_app().await;
    let body = fixture("samples/nightly-clean.json");
    let (status, res) = json_of(app.post_raw("tirecompany_test", &token(), body.clone()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts(&res),
        expect(&[
            ("Registrations", (120, 0)),
            ("Sales", (40, 0)),
            ("Claims", (30, 0)),
            ("Cancellations", (6, 0))
        ])
    );
    let (status, res) = json_of(app.post_raw("tirecompany_test", &token(), body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        res.as_array().unwrap().iter().all(|e| e["Action"] == "unchanged"),
        "{res}"
    );
}

#[tokio::test]
async fn the_mixed_night_is_206_with_each_mistake_named() {
    let app = spawn_app().await;
    let (status, res) = json_of(
        app.post_raw(COMPANY, &token(), fixture("samples/nightly-mixed.json"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        counts(&res),
        expect(&[
            ("Registrations", (96, 4)),
            ("Sales", (19, 1)),
            ("Claims", (20, 5)),
            ("Cancellations", (5, 1))
        ])
    );
    type Rejection = (String, u64, Vec<(String, String)>);
    let rejected: Vec<Rejection> = res
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["Status"] == "Rejected")
        .map(|e| {
            (
                e["Record"].as_str().unwrap().to_owned(),
                e["Index"].as_u64().unwrap(),
                errors_of(e),
            )
        })
        .collect();
    let e = |f: &str, c: &str| vec![(f.to_owned(), c.to_owned())];
    assert_eq!(
        rejected,
        vec![
            ("Registrations".into(), 3, e("PlanEnrollDate", "invalid_date")),
            ("Registrations".into(), 17, e("TPPPrice", "too_many_decimals")),
            ("Registrations".into(), 42, e("CustomerID", "required")),
            ("Registrations".into(), 64, e("ShopID", "too_long")),
            ("Sales".into(), 5, e("TireCount", "invalid_number")),
            ("Claims".into(), 3, e("InvoiceNumber", "registration_not_found")),
            ("Claims".into(), 7, e("InvoiceNumber", "registration_not_found")),
            ("Claims".into(), 8, e("InvoiceNumber", "registration_not_found")),
            ("Claims".into(), 12, e("TireClaimCount", "not_enough_tires")),
            ("Claims".into(), 17, e("InvoiceNumber", "registration_not_found")),
            ("Cancellations".into(), 5, e("CancelInvoiceNumber", "already_cancelled")),
        ]
    );
}
