//! openapi.yaml describes exactly the routes the server registers, and the guide's examples and
//! the server's own answers validate against its schemas.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warranty_gateway::api::ROUTES;

use crate::helpers::*;

pub(crate) fn document() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

/// A validator for one component schema, with the whole document as the root its $refs resolve in.
fn schema(doc: &Value, name: &str) -> jsonschema::Validator {
    let mut root = doc.clone();
    root["$ref"] = json!(format!("#/components/schemas/{name}"));
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

pub(crate) fn assert_valid(doc: &Value, name: &str, instance: &Value) {
    let validator = schema(doc, name);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not a valid {name}: {errors:#?}\n{instance}");
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).unwrap()
}

#[test]
fn the_document_describes_exactly_the_registered_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch", "head", "options"].contains(&k.as_str()))
                .map(move |m| (path.clone(), m.to_uppercase()))
        })
        .collect();
    let registered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(move |m| (path.to_string(), m.to_string())))
        .collect();
    assert_eq!(documented, registered);
}

#[tokio::test]
async fn the_route_table_is_what_the_server_answers() {
    let app = spawn_app().await;
    for (path, methods) in ROUTES {
        // A batch of the history to name (an earlier DELETE may have reset the tenant).
        let res = app
            .post_raw(
                "tirecompany_test",
                &token(),
                json!({"Sales": [sale("S1", "I1")]}).to_string(),
            )
            .await;
        let id = res.headers()["x-batch-id"].to_str().unwrap().to_owned();
        let url = format!(
            "{}{}",
            app.address,
            path.replace("{company}", "tirecompany_test").replace("{id}", &id)
        );
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let req = app
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .bearer_auth(token());
            let res = req.body("{}").send().await.unwrap();
            let status = res.status();
            if methods.contains(&method) {
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {status}"
                );
            } else {
                // A known path refuses a method it does not take with 405 and an Allow that is
                // true for it (here on a test tenant, whose DELETE resets it).
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is answered but not in ROUTES"
                );
                assert_eq!(res.headers()["allow"], methods.join(", "), "{method} {path}");
            }
        }
    }
    let served = app
        .client
        .get(format!("{}/openapi.yaml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    let served: Value = serde_norway::from_str(&served.text().await.unwrap()).unwrap();
    assert_eq!(served, document());
}

#[test]
fn the_guides_examples_validate() {
    let doc = document();
    for name in ["registrations", "claims", "sales", "cancellations"] {
        assert_valid(&doc, "BatchBody", &fixture_json(&format!("guide/{name}.json")));
    }
    for (name, schema) in [
        ("registrations", "Registration"),
        ("claims", "Claim"),
        ("sales", "Sale"),
        ("cancellations", "Cancellation"),
        ("registrationstatus", "RegistrationStatus"),
    ] {
        assert_valid(&doc, schema, &fixture_json(&format!("guide/responses/{name}.json")));
    }
    // And the schemas are not vacuous.
    assert!(!schema(&doc, "BatchBody").is_valid(&json!({"Registrations": {"ShopID": "1"}})));
    assert!(!schema(&doc, "Registration").is_valid(&json!({"PartnerID": 1001})));
    assert!(!schema(&doc, "RegistrationStatus").is_valid(&fixture_json("guide/responses/registrations.json")));
}

#[tokio::test]
async fn the_servers_answers_validate() {
    let doc = document();
    let app = spawn_app().await;
    let (status, results) = json_of(
        app.post_raw(COMPANY, &token(), fixture("samples/nightly-mixed.json"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_valid(&doc, "BatchResults", &results);
    let (_, body_level) = json_of(app.post_raw(COMPANY, &token(), "nope").await).await;
    assert_valid(&doc, "BatchResults", &body_level);

    let body = json!({
        "Registrations": [registration("S1", "I1")],
        "Sales": [sale("S1", "I1"), with(sale("S1", "I1"), json!({"TireSize": "X"}))],
        "Claims": [claim("S1", "I1", "R1", 1, "2024-03-01"), claim("S1", "I1", "R2", 1, "2024-03-02")],
        "Cancellations": [cancellation("S1", "I1", "C1", 1, "2024-03-03")],
    });
    assert_eq!(app.post(COMPANY, &body).await.0, StatusCode::OK);
    for (rec, schema_name, array) in [
        ("registrations", "Registration", false),
        ("registrationstatus", "RegistrationStatus", false),
        ("cancellations", "Cancellation", false),
        ("claims", "Claim", true),
        ("sales", "Sale", true),
    ] {
        let (status, got) = app.get(COMPANY, &format!("rec={rec}&ShopID=S1&InvoiceNumber=I1")).await;
        assert_eq!(status, StatusCode::OK);
        match array {
            true => got
                .as_array()
                .unwrap()
                .iter()
                .for_each(|item| assert_valid(&doc, schema_name, item)),
            false => assert_valid(&doc, schema_name, &got),
        }
    }
    let (_, missing) = app.get(COMPANY, "rec=claims").await;
    assert_valid(&doc, "QueryError", &missing);
    let (_, unauthorized) = json_of(app.get_raw(COMPANY, "bad", "rec=claims").await).await;
    assert_valid(&doc, "Error", &unauthorized);

    let page = json_of(
        app.client
            .get(format!("{}/batches", app.url(COMPANY)))
            .bearer_auth(token())
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    assert_valid(&doc, "BatchPage", &page);
    for batch in page["Batches"].as_array().unwrap() {
        let url = format!("{}/batches/{}", app.url(COMPANY), batch["BatchID"]);
        let detail = json_of(app.client.get(url).bearer_auth(token()).send().await.unwrap())
            .await
            .1;
        assert_valid(&doc, "BatchDetail", &detail);
    }
    // The operators' search: a registration with its status, claims, sales, a cancellation,
    // and a trail with a rejected record.
    let support = support();
    let (status, found) = app.ops_get("/records?ShopID=S1&InvoiceNumber=I1", &support).await;
    assert_eq!(status, StatusCode::OK);
    assert!(found["matches"][0]["trail"].as_array().unwrap().len() > 5, "{found}");
    assert_valid(&doc, "OpsRecords", &found);
    let (status, server) = app.ops_get("/server", &support).await;
    assert_eq!(status, StatusCode::OK);
    assert_valid(&doc, "OpsServer", &server);
    // And with a backup made (`backup` copies SQLite; PostgreSQL's row stands in for one).
    match &app.postgres {
        None => {
            warranty_gateway::store::backup_database(&app.db_path(), &app.dir.path().join("copy.sqlite3")).unwrap();
        }
        Some(_) => app.execute_sql(
            "INSERT INTO backups (finished_at, file, bytes) VALUES ('2026-12-07T12:00:00Z', '/b/copy.sqlite3', 1234)",
        ),
    }
    let (status, server) = app.ops_get("/server", &support).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        server["last_backup"]["file"]
            .as_str()
            .unwrap()
            .ends_with("copy.sqlite3"),
        "{server}"
    );
    assert_valid(&doc, "OpsServer", &server);
    let health = json_of(app.client.get(format!("{}/healthz", app.address)).send().await.unwrap())
        .await
        .1;
    assert_valid(&doc, "Health", &health);
}

#[tokio::test]
async fn the_v3_answers_validate() {
    let doc = document();
    let app = spawn_app().await;
    let docs_example: Value = json!({
        "product_id": "YOUR-PRODUCT-ID", "invoiceNumber": "001-20345", "storeNumber": "S1",
        "enrollDate": "2021-08-01T13:08:00.000Z",
        "customer": {"name": "John Doe", "email": "john.doe@example.com"},
        "vehicle": {"year": 2021, "make": "Tesla", "model": "Model 3"},
        "tires": [{"make": "BRIDGESTONE", "model": "TURANZA ER33", "size": "235/45R18", "retailPrice": 334.31}]
    });
    assert_valid(&doc, "V3NewTireProtection", &docs_example);
    let path = "/tire-protection/registrations";
    let (status, created) = app.v3_post(path, &v3_token(), &docs_example).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_valid(&doc, "V3Created", &created);
    app.post(
        COMPANY,
        &json!({"Claims": [claim("S1", "001-20345", "R1", 1, "2021-09-01")]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (_, one) = app.v3_get(&format!("{path}/{id}"), &v3_token()).await;
    assert_eq!(one["claims"].as_array().map(Vec::len), Some(1));
    assert_valid(&doc, "V3TireProtectionWithClaims", &one);
    let (_, meta) = app.v3_get(&format!("{path}/{id}/metadata"), &v3_token()).await;
    assert_valid(&doc, "V3Metadata", &meta);
    let (_, page) = app.v3_get(path, &v3_token()).await;
    assert_valid(&doc, "V3TireProtectionPage", &page);
    for (status, refused) in [
        app.v3_post(path, &v3_token(), &json!({"tires": [{}]})).await,
        app.v3_post(path, &token(), &docs_example).await,
        app.v3_get(&format!("{path}/{id}0"), &v3_token()).await,
        app.v3_post(path, &v3_token(), &docs_example).await,
        // The docs' registration has expired: a 409 naming the rule.
        app.v3_patch(
            &format!("{path}/{id}"),
            &v3_token(),
            &json!({"cancelledOn": "2030-01-01T00:00:00Z"}),
        )
        .await,
    ] {
        assert!(status.is_client_error(), "{status}");
        assert_valid(&doc, "V3Error", &refused);
    }
    assert!(!schema(&doc, "V3TireProtection").is_valid(&json!({"_id": "x"})));

    // Motor club.
    let member = json!({
        "product_id": "YOUR-PRODUCT-ID", "invoiceNumber": "001-20345", "enrollDate": "2024-09-15T13:08:00.000Z",
        "customer": {"name": "John Doe", "phone": "+13034579876", "email": "john.doe@example.com",
                     "address": {"line1": "10170 Church Ranch Way", "line2": "Suite 320", "city": "Westminster",
                                 "state": "CO", "zip": "80021", "country": "US"}}
    });
    assert_valid(&doc, "V3NewMotorClub", &member);
    let path = "/motor-club/registrations";
    let (status, created) = app.v3_post(path, &v3_token(), &member).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_valid(&doc, "V3Created", &created);
    let id = created["id"].as_str().unwrap();
    let cancel = json!({"cancelledOn": "2024-09-17T10:10:00.000Z"});
    assert_valid(&doc, "V3MotorClubChange", &cancel);
    assert_valid(&doc, "V3MotorClubChange", &json!({"customer": member["customer"]}));
    let (status, _) = app.v3_patch(&format!("{path}/{id}"), &v3_token(), &cancel).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, one) = app.v3_get(&format!("{path}/{id}"), &v3_token()).await;
    assert!(one["cancelledOn"].is_string(), "{one}");
    assert_valid(&doc, "V3MotorClub", &one);
    let (_, page) = app.v3_get(path, &v3_token()).await;
    assert_valid(&doc, "V3MotorClubPage", &page);
    for (status, refused) in [
        app.v3_post(path, &v3_token(), &json!({"customer": {"phone": "1"}}))
            .await,
        app.v3_post(path, &v3_token(), &member).await,
        app.v3_patch(&format!("{path}/{id}"), &v3_token(), &cancel).await,
        app.v3_patch(&format!("{path}?invoiceNumber=nope"), &v3_token(), &cancel)
            .await,
    ] {
        assert!(status.is_client_error(), "{status}");
        assert_valid(&doc, "V3Error", &refused);
    }
}

/// The country codes the document lists are the ones the server takes (isocountry's list), and
/// the empty and null values the server takes as not sent are valid too.
#[test]
fn the_documented_countries_are_the_ones_the_server_takes() {
    let doc = document();
    let listed: std::collections::BTreeSet<String> = doc["components"]["schemas"]["V3Country"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().expect("quoted: YAML 1.1 reads NO as false").to_owned())
        .collect();
    let taken: std::collections::BTreeSet<String> =
        isocountry::CountryCode::iter().map(|c| c.alpha2().to_owned()).collect();
    assert_eq!(listed, taken);
    let customer = |address: Value| json!({"name": "A", "phone": "", "email": " ", "address": address});
    assert_valid(&doc, "V3Customer", &customer(json!({"country": "NO", "line2": ""})));
    assert_valid(&doc, "V3Customer", &customer(json!({"country": ""})));
    assert_valid(&doc, "V3Customer", &customer(json!({"country": null, "zip": null})));
    assert!(!schema(&doc, "V3Customer").is_valid(&customer(json!({"country": "us"}))));
    assert!(!schema(&doc, "V3Customer").is_valid(&json!({"name": "A", "phone": "303-457-9876"})));
}

/// The operations of the document by operationId, each with the names of its parameters (its
/// path's and its own, `$ref`s resolved).
fn operations(doc: &Value) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let named = |p: &Value| -> String {
        let p = match p["$ref"].as_str() {
            Some(r) => &doc["components"]["parameters"][r.rsplit('/').next().unwrap()],
            None => p,
        };
        p["name"].as_str().unwrap().to_owned()
    };
    let mut found = std::collections::BTreeMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        let shared: Vec<String> = item["parameters"].as_array().into_iter().flatten().map(named).collect();
        for operation in item.as_object().unwrap().values() {
            if let Some(id) = operation["operationId"].as_str() {
                let own = operation["parameters"].as_array().into_iter().flatten().map(named);
                found.insert(id.to_owned(), shared.iter().cloned().chain(own).collect());
            }
        }
    }
    found
}

/// Each link (what a client, or schemathesis's stateful phase, follows from an answer to the
/// next request) names an operation there is, and only parameters it has.
#[test]
fn every_link_leads_to_an_operation_with_those_parameters() {
    let doc = document();
    let operations = operations(&doc);
    let mut links = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().into_iter().flat_map(|r| r.values()) {
                for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    links.push(match link["$ref"].as_str() {
                        Some(r) => doc["components"]["links"][r.rsplit('/').next().unwrap()].clone(),
                        None => link.clone(),
                    });
                }
            }
        }
    }
    // The batch a POST made, and the registration a v3 POST made.
    assert!(links.len() >= 10, "{links:#?}");
    for link in links {
        let target = link["operationId"].as_str().unwrap_or_else(|| panic!("{link}"));
        let parameters = operations
            .get(target)
            .unwrap_or_else(|| panic!("no operation {target}"));
        for name in link["parameters"].as_object().unwrap().keys() {
            assert!(parameters.contains(name), "{target} has no parameter {name}");
        }
    }
}
