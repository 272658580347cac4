//! `GET /metrics`: Prometheus text with requests by route and status, records by type, tenant
//! and result, batch durations and the database size (a process of its own: one recorder each).

use serde_json::json;

use crate::binary::*;

/// The value of the sample of `name` carrying every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_records_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    let client = reqwest::Client::new();
    let mut bad = registration("M2");
    bad.as_object_mut().unwrap().remove("TiresCovered");
    let res = server
        .post("tirecompany_test", &json!({"Registrations": [registration("M1"), bad]}))
        .await;
    assert_eq!(res.status(), 206);
    let res = client
        .get(server.url("/v2/partners/tirecompany?rec=sales&ShopID=1&InvoiceNumber=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    let records = |result: &str| {
        let r = format!("result=\"{result}\"");
        sample(
            &text,
            "warranty_gateway_records_total",
            &[
                "partner=\"tirecompany\"",
                "tenant=\"test\"",
                "type=\"registrations\"",
                &r,
            ],
        )
    };
    assert_eq!(
        (records("accepted"), records("rejected")),
        (Some(1.0), Some(1.0)),
        "{text}"
    );
    let route = "route=\"/v2/partners/{company}\"";
    assert_eq!(
        sample(
            &text,
            "warranty_gateway_http_requests_total",
            &[route, "method=\"POST\"", "status=\"206\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "warranty_gateway_http_requests_total",
            &[route, "method=\"GET\"", "status=\"401\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "warranty_gateway_batch_duration_seconds_count",
            &["tenant=\"test\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("warranty_gateway_batch_duration_seconds_bucket{"),
        "{text}"
    );
    let size = sample(&text, "warranty_gateway_database_size_bytes", &[]).unwrap();
    assert!(size >= 4096.0, "{size}");
}
