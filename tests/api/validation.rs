//! Field rules and the guide's leniencies, over HTTP: every kind of rule on every record type,
//! and 206 / 400 bodies checked entry by entry.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// POSTs one record of `array` and returns the (Field, Code) pairs of its rejection.
async fn rejection(app: &TestApp, array: &str, record: Value) -> Vec<(String, String)> {
    let (status, body) = app.post(COMPANY, &json!({ array: [record] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body[0]["Status"], "Rejected", "{body}");
    errors_of(&body[0])
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect()
}

#[tokio::test]
async fn registrations_check_required_length_number_money_and_date() {
    let app = spawn_app().await;
    let bad = with(
        registration("S1", "I1"),
        json!({
            "EmployeeID": null,                      // required
            "InvoiceNumber": "9".repeat(51),         // 50 on Registrations
            "TiresCovered": "four",                  // number
            "TPPPrice": 99.999,                      // money, exact to the cent
            "PlanEnrollDate": "2024-02-30",          // date
        }),
    );
    assert_eq!(
        rejection(&app, "Registrations", bad).await,
        pairs(&[
            ("InvoiceNumber", "too_long"),
            ("PlanEnrollDate", "invalid_date"),
            ("EmployeeID", "required"),
            ("TiresCovered", "invalid_number"),
            ("TPPPrice", "too_many_decimals"),
        ])
    );
    // 50 characters is within the limit for a registration's InvoiceNumber.
    let ok = registration("S1", &"9".repeat(50));
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [ok]})).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn claims_check_required_length_number_money_and_date() {
    let app = spawn_app().await;
    let bad = with(
        claim("S1", "I1", "R1", 1, "2024-03-01"),
        json!({
            "RepairShopID": "",                      // required (blank)
            "InvoiceNumber": "9".repeat(26),         // 25 on Claims
            "TireClaimCount": 1.5,                   // number
            "CreditAmount": "-5.00",                 // money
            "ClaimDate": "03/01/2024",               // date
        }),
    );
    assert_eq!(
        rejection(&app, "Claims", bad).await,
        pairs(&[
            ("InvoiceNumber", "too_long"),
            ("ClaimDate", "invalid_date"),
            ("RepairShopID", "required"),
            ("TireClaimCount", "not_whole_number"),
            ("CreditAmount", "negative"),
        ])
    );
}

#[tokio::test]
async fn sales_check_required_length_number_money_and_date() {
    let app = spawn_app().await;
    let bad = with(
        sale("S1", "I1"),
        json!({
            "TireBrand": null,                       // required
            "ShopID": "S".repeat(26),                // 25
            "TireCount": "2147483648",               // number out of range
            "TireCost": "1,000.00",                  // money
            "SaleDate": "2024-13-01",                // date
        }),
    );
    assert_eq!(
        rejection(&app, "Sales", bad).await,
        pairs(&[
            ("ShopID", "too_long"),
            ("SaleDate", "invalid_date"),
            ("TireCount", "out_of_range"),
            ("TireBrand", "required"),
            ("TireCost", "invalid_number"),
        ])
    );
}

#[tokio::test]
async fn cancellations_check_required_length_number_and_date() {
    // Cancellations carry no money field.
    let app = spawn_app().await;
    let bad = with(
        cancellation("S1", "I1", "C1", 1, "2024-03-01"),
        json!({
            "CancelShopID": null,                    // required
            "CancelInvoiceNumber": "C".repeat(26),   // 25
            "TireCancelCount": 0,                    // at least 1
            "CancelDate": "yesterday",               // date
        }),
    );
    assert_eq!(
        rejection(&app, "Cancellations", bad).await,
        pairs(&[
            ("CancelShopID", "required"),
            ("CancelInvoiceNumber", "too_long"),
            ("TireCancelCount", "out_of_range"),
            ("CancelDate", "invalid_date"),
        ])
    );
}

#[tokio::test]
async fn a_partial_batch_is_206_with_one_entry_per_record_in_processing_order() {
    let app = spawn_app().await;
    // Written out of processing order on purpose: the response follows Registrations, Sales,
    // Claims, Cancellations.
    let body = json!({
        "Cancellations": [cancellation("S1", "I9", "C1", 1, "2024-03-01")],
        "Claims": [claim("S1", "I1", "R1", 2, "2024-03-01")],
        "Registrations": [
            registration("S1", "I1"),
            with(registration("S1", "I2"), json!({"TiresCovered": null, "Color": "red"})),
        ],
    });
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res,
        json!([
            {"Record": "Registrations", "Index": 0, "Status": "Successfully Posted", "Action": "inserted",
             "Key": {"ShopID": "S1", "InvoiceNumber": "I1"}},
            // Refused for a field outside its key: the key it was sent under is given.
            {"Record": "Registrations", "Index": 1, "Status": "Rejected",
             "Key": {"ShopID": "S1", "InvoiceNumber": "I2"},
             "Errors": [{"Field": "TiresCovered", "Code": "required", "Message": "TiresCovered is required"}],
             "Warnings": ["unknown field \"Color\" was ignored"]},
            {"Record": "Claims", "Index": 0, "Status": "Successfully Posted", "Action": "inserted",
             "Key": {"OrgID": "", "ShopID": "S1", "InvoiceNumber": "I1", "RepairShopID": "S1",
                     "RepairInvoiceNumber": "R1"}},
            {"Record": "Cancellations", "Index": 0, "Status": "Rejected",
             "Key": {"OrgID": "", "ShopID": "S1", "InvoiceNumber": "I9", "CancelShopID": "S1",
                     "CancelInvoiceNumber": "C1"},
             "Errors": [{"Field": "InvoiceNumber", "Code": "registration_not_found",
                         "Message": "no registration with ShopID \"S1\" and InvoiceNumber \"I9\"; send the registration first (or earlier in the same batch)"}]},
        ])
    );
    // The accepted records are stored, the rejected ones are not.
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I2").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.status_of(COMPANY, "S1", "I1").await["TireClaimCount"], 2);
}

#[tokio::test]
async fn an_all_rejected_batch_is_400_with_every_error_of_every_record() {
    let app = spawn_app().await;
    let body = json!({
        "Sales": [
            with(sale("S1", "I1"), json!({"TirePrice": "abc", "SaleDate": null})),
            "not a record",
        ],
    });
    let (status, res) = app.post(COMPANY, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res,
        json!([
            {"Record": "Sales", "Index": 0, "Status": "Rejected",
             "Key": {"OrgID": "", "ShopID": "S1", "InvoiceNumber": "I1", "TireBrand": "SUM",
                     "TireModel": "HTR A/S P02", "TireSize": "2356018"},
             "Errors": [
                {"Field": "SaleDate", "Code": "required", "Message": "SaleDate is required"},
                {"Field": "TirePrice", "Code": "invalid_number", "Message": "TirePrice must be a number, got \"abc\""},
            ]},
            {"Record": "Sales", "Index": 1, "Status": "Rejected", "Errors": [
                {"Field": "Sales", "Code": "invalid_type",
                 "Message": "each entry of Sales must be a JSON object, got a string"},
            ]},
        ])
    );
    assert_eq!(
        app.get(COMPANY, "rec=sales&ShopID=S1&InvoiceNumber=I1").await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn the_legacy_leniencies_are_accepted() {
    let app = spawn_app().await;
    // Lower-case keys, a repeated key (the last wins), numbers as strings, money with extra zero
    // decimals, the basic date form, a Y/N flag, a ShopID sent as a number.
    let body = r#"{"registrations": [{
        "shopid": 5308, "INVOICENUMBER": "first", "InvoiceNumber": "L1",
        "PlanEnrollDate": "20240115T13:08:00", "EmployeeID": "E1", "CustomerID": "C1",
        "CurrentMileage": " 187437 ", "TiresCovered": "4", "TPPPrice": "995.680",
        "TireBrand": "NIT", "TireSize": "2656518", "TirePrice": 188.99, "TireCost": "105.98",
        "CommercialVehicle": "Y"
    }]}"#;
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let (_, reg) = app.get(COMPANY, "rec=registrations&ShopID=5308&InvoiceNumber=L1").await;
    assert_eq!(reg["PlanEnrollDate"], "2024-01-15T13:08:00Z");
    assert_eq!(reg["CurrentMileage"], 187437);
    assert_eq!(reg["TiresCovered"], 4);
    assert_eq!(reg["TPPPrice"], 995.68);
    assert_eq!(reg["TireCost"], 105.98);
    assert_eq!(reg["CommercialVehicle"], "true");
    assert_eq!(reg["TireModel"], "");
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=5308&InvoiceNumber=first")
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    // Every accepted form of CommercialVehicle.
    for (i, (sent, stored)) in [
        (json!("Yes"), "true"),
        (json!("no"), "false"),
        (json!("N"), "false"),
        (json!(true), "true"),
        (json!("FALSE"), "false"),
        (json!(1), "true"),
        (json!("0"), "false"),
        (Value::Null, "false"),
    ]
    .into_iter()
    .enumerate()
    {
        let invoice = format!("CV{i}");
        let reg = with(registration("S1", &invoice), json!({"CommercialVehicle": sent}));
        assert_eq!(
            app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
            StatusCode::OK
        );
        let (_, got) = app
            .get(COMPANY, &format!("rec=registrations&ShopID=S1&InvoiceNumber={invoice}"))
            .await;
        assert_eq!(got["CommercialVehicle"], stored, "{sent}");
    }
}

#[tokio::test]
async fn dates_take_every_form_and_zone() {
    let app = spawn_app().await;
    for (i, (sent, stored)) in [
        ("2018-12-04", "2018-12-04T00:00:00Z"),
        ("2018-12-04T13:08:00", "2018-12-04T13:08:00Z"),
        ("2018-12-04T13:08:00Z", "2018-12-04T13:08:00Z"),
        ("2018-12-04T13:08:00.5Z", "2018-12-04T13:08:00.500Z"),
        ("2018-12-04T13:08:00-07:00", "2018-12-04T20:08:00Z"),
        ("20181204T13:08:00", "2018-12-04T13:08:00Z"),
        ("20181204", "2018-12-04T00:00:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let invoice = format!("D{i}");
        let reg = with(registration("S1", &invoice), json!({"PlanEnrollDate": sent}));
        assert_eq!(
            app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
            StatusCode::OK,
            "{sent}"
        );
        let (_, got) = app
            .get(COMPANY, &format!("rec=registrations&ShopID=S1&InvoiceNumber={invoice}"))
            .await;
        assert_eq!(got["PlanEnrollDate"], stored, "{sent}");
    }
    // othercompany is configured in America/Denver: dates without an offset are Denver time.
    let reg = with(registration("S1", "DEN"), json!({"PlanEnrollDate": "2024-01-15"}));
    assert_eq!(
        app.post(OTHER, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    let (_, got) = app.get(OTHER, "rec=registrations&ShopID=S1&InvoiceNumber=DEN").await;
    assert_eq!(got["PlanEnrollDate"], "2024-01-15T07:00:00Z");
}

#[tokio::test]
async fn money_is_stored_exactly_and_never_rounded() {
    let app = spawn_app().await;
    let reg = with(
        registration("S1", "M1"),
        json!({"TPPPrice": 0.29, "TirePrice": "1.000", "TireCost": 9999999999999.99_f64}),
    );
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    let (_, got) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=M1").await;
    assert_eq!(
        (got["TPPPrice"].clone(), got["TirePrice"].clone()),
        (json!(0.29), json!(1))
    );
    assert_eq!(got["TireCost"].to_string(), "9999999999999.99");

    let reg = with(registration("S1", "M2"), json!({"TPPPrice": "1.005"}));
    let errs = rejection(&app, "Registrations", reg).await;
    assert_eq!(errs, pairs(&[("TPPPrice", "too_many_decimals")]));
}

#[tokio::test]
async fn an_empty_array_is_a_quiet_night() {
    let app = spawn_app().await;
    let (status, body) = app.post(COMPANY, &json!({"Registrations": [], "Claims": []})).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn a_resend_updates_instead_of_duplicating() {
    let app = spawn_app().await;
    let reg = registration("S1", "I1");
    let action = |res: &Value| res[0]["Action"].as_str().unwrap().to_owned();
    let (_, res) = app.post(COMPANY, &json!({"Registrations": [reg.clone()]})).await;
    assert_eq!(action(&res), "inserted");
    let (_, res) = app.post(COMPANY, &json!({"Registrations": [reg.clone()]})).await;
    assert_eq!(action(&res), "unchanged");
    let (_, res) = app
        .post(
            COMPANY,
            &json!({"Registrations": [with(reg, json!({"VIN": "NEWVIN"}))]}),
        )
        .await;
    assert_eq!(action(&res), "updated");
    let (status, got) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.is_object(), "one registration per ShopID and InvoiceNumber: {got}");
    assert_eq!(got["VIN"], "NEWVIN");

    // Sales are keyed by shop, invoice and tire: another tire on the same invoice is a second sale.
    let s = sale("S1", "I1");
    assert_eq!(
        app.post(COMPANY, &json!({"Sales": [s.clone(), s.clone()]})).await.0,
        StatusCode::OK
    );
    let other_tire = with(s, json!({"TireSize": "2656518"}));
    assert_eq!(
        app.post(COMPANY, &json!({"Sales": [other_tire]})).await.0,
        StatusCode::OK
    );
    let (_, got) = app.get(COMPANY, "rec=sales&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!(got.as_array().map(Vec::len), Some(2), "{got}");
}
