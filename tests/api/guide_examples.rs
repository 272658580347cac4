//! Every example of the guide, as written (host and token aside).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn post_fixture(app: &TestApp, name: &str) -> (StatusCode, Value) {
    json_of(
        app.post_raw(COMPANY, &token(), fixture(&format!("guide/{name}.json")))
            .await,
    )
    .await
}

#[tokio::test]
async fn the_registrations_example_posts_and_reads_back_in_the_guides_shape() {
    let app = spawn_app().await;
    let (status, body) = post_fixture(&app, "registrations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"Record": "Registrations", "Index": 0, "Status": "Successfully Posted", "Action": "inserted",
                "Key": {"ShopID": "005308", "InvoiceNumber": "1044273"}}])
    );
    // The guide's GET example, lower-case parameter names and partnerid included.
    let (status, body) = app
        .get(
            COMPANY,
            &format!("rec=registrations&partnerid={PARTNER_ID}&shopid=005308&invoicenumber=1044273"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "PartnerID": 1001, "OrgID": "", "ShopID": "005308", "InvoiceNumber": "1044273",
            "PlanEnrollDate": "2018-12-04T00:00:00Z", "EmployeeID": "JP0078", "CustomerID": "5108-460340",
            "VehicleYear": "08", "VehicleMake": "GMC TRUCK", "VehicleModel": "SIERRA 1500 PICKUP",
            "VIN": "2GTEC19C481101249", "CurrentMileage": 187437, "TiresCovered": 4, "TPPPrice": 995.68,
            "TireBrand": "NIT", "TireModel": "P265/65R18 112T NITTO CROSSTEK 2", "TireSize": "2656518",
            "TirePrice": 188.99, "TireCost": 105.98, "TireDOT1": "DOT 73C2 KLH0913", "TireDOT2": "",
            "TireDOT3": "", "TireDOT4": "", "TireDOT5": "", "TireDOT6": "", "CommercialVehicle": "false"
        })
    );
}

#[tokio::test]
async fn the_sales_example_posts_and_reads_back() {
    let app = spawn_app().await;
    let (status, body) = post_fixture(&app, "sales").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["Status"], "Successfully Posted");
    let (status, body) = app
        .get(COMPANY, "rec=sales&ShopID=005054568&InvoiceNumber=354365667")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "PartnerID": 1001, "OrgID": "", "ShopID": "005054568", "InvoiceNumber": "354365667",
            "SaleDate": "2020-01-27T00:00:00Z", "TireCount": 4, "TireBrand": "SUM",
            "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK", "TireSize": "2356018",
            "TirePrice": 225.09, "TireCost": 195.09
        })
    );
}

#[tokio::test]
async fn the_claims_example_is_rejected_naming_the_missing_repair_fields_and_the_repeated_ones() {
    let app = spawn_app().await;
    let (status, body) = post_fixture(&app, "claims").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!([{"Record": "Claims", "Index": 0, "Status": "Rejected", "Errors": [
            {"Field": "RepairShopID", "Code": "required", "Message": "RepairShopID is required"},
            {"Field": "RepairInvoiceNumber", "Code": "required", "Message": "RepairInvoiceNumber is required"}
        ], "Warnings": [
            "ShopID was sent twice with different values (\"0056678\", then \"0056698\"): the last was kept",
            "InvoiceNumber was sent twice with different values (\"35554367\", then \"9994498\"): the last was kept"
        ]}])
    );
}

#[tokio::test]
async fn the_claims_example_completed_posts_and_reads_back_in_the_guides_shape() {
    let app = spawn_app().await;
    let reg = with(
        registration("0056698", "9994498"),
        json!({"PlanEnrollDate": "2019-06-01"}),
    );
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    // The guide's example with the repair fields it lacks (with the guide's own typo).
    let body = fixture("guide/claims.json").replace(
        "\"VehicleMileage\"",
        "\"RepairShopID\": \"0056698\",\n\"RepairlnvoiceNumber\": \"104273\",\n\"VehicleMileage\"",
    );
    let (status, res) = json_of(app.post_raw(COMPANY, &token(), body).await).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let (status, body) = app
        .get(
            COMPANY,
            "rec=claims&partnerid=1001&shopid=0056698&invoicenumber=9994498",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "PartnerID": 1001, "OrgID": "", "ShopID": "0056698", "InvoiceNumber": "9994498",
            "ClaimDate": "2020-01-27T00:00:00Z", "RepairShopID": "0056698", "RepairInvoiceNumber": "104273",
            "VIN": "", "VehicleMileage": 96192, "TireClaimCount": 4, "CreditAmount": 64.04, "CostPerUnit": 60,
            "ServiceType": "REPLACE", "ServiceDescription": "FLAT REPAIR PASSENGER REAR",
            "TireLocation1": "", "TireLocation2": "", "TireLocation3": "", "TireLocation4": "",
            "TireLocation5": "", "TireLocation6": "", "TireBrand": "SUM",
            "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK", "TireSize": "2356018", "TirePrice": 0,
            "TireCost": 58
        })
    );
}

#[tokio::test]
async fn the_cancellations_example_needs_its_registration_then_posts_and_reads_back() {
    let app = spawn_app().await;
    let (status, body) = post_fixture(&app, "cancellations").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors_of(&body[0]),
        vec![("InvoiceNumber".into(), "registration_not_found".into())]
    );

    let reg = with(
        registration("005054568", "354365667"),
        json!({"PlanEnrollDate": "2019-06-01"}),
    );
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    let (status, body) = post_fixture(&app, "cancellations").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(
            COMPANY,
            "rec=cancellations&partnerid=1001&ShopID=005054568&InvoiceNumber=354365667",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "PartnerID": 1001, "OrgID": "", "ShopID": "005054568", "InvoiceNumber": "354365667",
            "CancelShopID": "005054568", "CancelInvoiceNumber": "365365167", "TireCancelCount": 1,
            "CancelDate": "2020-01-27T00:00:00Z"
        })
    );
}

#[tokio::test]
async fn the_registration_status_example_has_the_guides_shape() {
    let app = spawn_app().await;
    let today = chrono::Utc::now().date_naive().to_string();
    let reg = with(
        registration("005108", "104252"),
        json!({"PlanEnrollDate": today, "TiresCovered": 2}),
    );
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [reg]})).await.0,
        StatusCode::OK
    );
    let body = app.status_of(COMPANY, "005108", "104252").await;
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "RegistrationID",
        "PartnerID",
        "OrgID",
        "ShopID",
        "InvoiceNumber",
        "PlanEnrollDate",
        "CreatedDate",
        "TiresCovered",
        "TireClaimCount",
        "TireCancelCount",
        "TiresLeft",
        "WarrantyStatus",
        "CancelDate",
        "ExpireDate",
        "StatusDate",
        "Message",
    ];
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    expected.sort();
    assert_eq!(keys_sorted, expected);
    assert!(body["RegistrationID"].is_i64());
    assert_eq!(body["PartnerID"], 1001);
    assert_eq!(body["PlanEnrollDate"], format!("{today}T00:00:00Z"));
    assert_eq!(
        (body["TiresCovered"].as_i64(), body["TiresLeft"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (body["TireClaimCount"].as_i64(), body["TireCancelCount"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(body["WarrantyStatus"], 1);
    assert_eq!(body["Message"], "Registration is Active");
    assert_eq!(
        (body["CancelDate"].as_str(), body["StatusDate"].as_str()),
        (Some(""), Some(""))
    );
}
