//! `GET /metrics`: Prometheus text with requests by route and status and their answer times,
//! records by type, tenant and result, batch durations and the database size (a process of its
//! own: one recorder each).

use chrono::Datelike;
use serde_json::json;

use crate::binary::*;

/// The value of the sample of `name` carrying every one of `labels`.
pub fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
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
    // Each answer's time, by route and method (the status aside): the POST and the GET.
    for method in ["method=\"POST\"", "method=\"GET\""] {
        let seconds = |series: &str| sample(&text, series, &[route, method]);
        assert_eq!(
            seconds("warranty_gateway_http_request_duration_seconds_count"),
            Some(1.0),
            "{method}: {text}"
        );
        assert!(seconds("warranty_gateway_http_request_duration_seconds_sum").is_some_and(|s| s > 0.0));
        assert!(text.contains(&format!(
            "warranty_gateway_http_request_duration_seconds_bucket{{{route},{method},le=\"0.0005\"}}"
        )));
    }
    let size = sample(&text, "warranty_gateway_database_size_bytes", &[]).unwrap();
    assert!(size >= 4096.0, "{size}");
    // This build's schema and the database's: the same, until a newer build migrates it.
    let ours = f64::from(warranty_gateway::store::latest_migration().version);
    assert_eq!(
        sample(&text, "warranty_gateway_build_migration", &[]),
        Some(ours),
        "{text}"
    );
    assert_eq!(
        sample(&text, "warranty_gateway_database_migration", &[]),
        Some(ours),
        "{text}"
    );
    // Every family shown says what it is, once: a TYPE line and a HELP line of its own (the
    // gauges are rendered apart from the counters and histograms: none in both).
    let families: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("warranty_gateway_"))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .map(|name| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n))
        })
        .collect();
    assert!(families.len() >= 8, "{families:?}");
    for family in families {
        assert_eq!(
            text.matches(&format!("\n# TYPE {family} ")).count(),
            1,
            "{family}: {text}"
        );
        let help = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# HELP {family} ")))
            .unwrap_or_else(|| panic!("{family} has no HELP: {text}"));
        assert!(help.len() > 20, "{family}: {help}");
    }
}

/// Before anything is counted, a scrape finds the counters it can know of at 0, so that
/// Prometheus's `increase()` sees the first night's records after a restart.
#[tokio::test]
async fn counters_known_in_advance_are_scraped_at_zero_before_their_first_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    let client = reqwest::Client::new();
    let scrape = || async {
        let res = client.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let records = |text: &str, tenant: &str, kind: &str, result: &str| {
        let labels = [
            "partner=\"tirecompany\"".to_owned(),
            format!("tenant=\"{tenant}\""),
            format!("type=\"{kind}\""),
            format!("result=\"{result}\""),
        ];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        sample(text, "warranty_gateway_records_total", &labels)
    };

    let text = scrape().await;
    for tenant in ["live", "test"] {
        for kind in ["registrations", "sales", "claims", "cancellations"] {
            for result in ["accepted", "rejected"] {
                assert_eq!(
                    records(&text, tenant, kind, result),
                    Some(0.0),
                    "{tenant} {kind} {result}: {text}"
                );
            }
        }
    }
    for reason in ["missing_token", "expired", "unknown_company", "v3_not_configured"] {
        let label = format!("reason=\"{reason}\"");
        assert_eq!(
            sample(&text, "warranty_gateway_refused_requests_total", &[&label]),
            Some(0.0),
            "{reason}: {text}"
        );
    }
    assert_eq!(
        sample(&text, "warranty_gateway_config_reload_failures_total", &[]),
        Some(0.0),
        "{text}"
    );
    let warnings = |text: &str, tenant: &str, kind: &str| {
        let labels = [
            "partner=\"tirecompany\"".to_owned(),
            format!("tenant=\"{tenant}\""),
            format!("kind=\"{kind}\""),
        ];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        sample(text, "warranty_gateway_record_warnings_total", &labels)
    };
    for tenant in ["live", "test"] {
        for kind in ["unknown_field", "repeated_field", "rounded_money"] {
            assert_eq!(warnings(&text, tenant, kind), Some(0.0), "{tenant} {kind}: {text}");
        }
    }

    // Counted from there: only the series counted move.
    let mut renamed = registration("Z1");
    renamed["Mileage"] = json!(42000);
    let res = server
        .post("tirecompany", &json!({"Registrations": [renamed, registration("Z2")]}))
        .await;
    assert_eq!(res.status(), 200);
    let text = scrape().await;
    assert_eq!(records(&text, "live", "registrations", "accepted"), Some(2.0), "{text}");
    assert_eq!(records(&text, "live", "registrations", "rejected"), Some(0.0), "{text}");
    assert_eq!(records(&text, "test", "registrations", "accepted"), Some(0.0), "{text}");
    assert_eq!(warnings(&text, "live", "unknown_field"), Some(1.0), "{text}");
    assert_eq!(warnings(&text, "live", "repeated_field"), Some(0.0), "{text}");
}

/// The partners' gauges: whether the nightly batch is late, and when each tenant last sent one;
/// and refused requests counted by reason.
#[tokio::test]
async fn partner_gauges_say_who_is_late_and_when_each_tenant_last_sent() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // Due at midnight UTC: always past, so late until the day's first live batch.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("expected_upload_by = \"00:00\"\n");
    // And a partner due on no morning of today or tomorrow (UTC), whichever day the test runs:
    // never late.
    let today = chrono::Utc::now().date_naive().weekday();
    let days: Vec<String> = (chrono::WeekdaySet::ALL.iter(today.succ().succ()))
        .filter(|&d| d != today && d != today.succ())
        .map(|d| format!("\"{d}\""))
        .collect();
    text.push_str(&format!(
        "\n[[partners]]\ncompany = \"closedco\"\npartner_id = 3003\nsecret = \"closedco-secret-0123456789abcdef0123456789\"\n\
         plan_term_months = 12\nexpected_upload_by = \"00:00\"\nupload_days = [{}]\n",
        days.join(", ")
    ));
    std::fs::write(&config, text).unwrap();
    let server = Server::serve(&config);
    let client = reqwest::Client::new();
    let late_of = |text: &str, company: &str| {
        sample(
            text,
            "warranty_gateway_partner_late",
            &[&format!("company=\"{company}\"")],
        )
    };
    let late = |text: &str| late_of(text, "tirecompany");
    let last = |text: &str, tenant: &str| {
        let tenant = format!("tenant=\"{tenant}\"");
        sample(
            text,
            "warranty_gateway_partner_last_batch_timestamp_seconds",
            &["company=\"tirecompany\"", &tenant],
        )
    };
    let before = server.metrics().await;
    assert_eq!(late(&before), Some(1.0), "{before}");
    assert_eq!(late_of(&before, "closedco"), Some(0.0), "{before}");
    assert_eq!(last(&before, "live"), None, "{before}");

    // A test batch does not make the live night on time.
    let res = server
        .post("tirecompany_test", &json!({"Registrations": [registration("G1")]}))
        .await;
    assert_eq!(res.status(), 200);
    let after_test = server.metrics().await;
    assert_eq!(late(&after_test), Some(1.0), "{after_test}");
    assert!(last(&after_test, "test").is_some(), "{after_test}");

    let sent = chrono::Utc::now().timestamp() as f64;
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("G2")]}))
        .await;
    assert_eq!(res.status(), 200);
    let after = server.metrics().await;
    assert_eq!(late(&after), Some(0.0), "{after}");
    let at = last(&after, "live").unwrap();
    assert!((at - sent).abs() <= 2.0, "{at} vs {sent}");

    // A request refused at the door is counted by its reason.
    let res = client.get(server.url("/v2/partners/tirecompany")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let text = server.metrics().await;
    assert_eq!(
        sample(
            &text,
            "warranty_gateway_refused_requests_total",
            &["reason=\"missing_token\""]
        ),
        Some(1.0),
        "{text}"
    );
}

/// Each credential with an end shows when it stops verifying tokens, for an alert ahead of it,
/// and each one used when it last verified a token.
#[tokio::test]
async fn each_credential_with_an_end_is_a_gauge_of_when() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("secret_env = \"{SECRET_ENV}\""),
        &format!(
            "secrets = [ {{ secret_env = \"{SECRET_ENV}\" }}, \
             {{ secret = \"old-secret-0123456789abcdef0123456789\", not_after = \"2030-01-01T00:00:00Z\" }} ]"
        ),
    );
    std::fs::write(&config, text).unwrap();
    let server = Server::serve(&config);
    let text = server.metrics().await;
    let gauge = "warranty_gateway_credential_not_after_timestamp_seconds";
    assert_eq!(
        sample(
            &text,
            gauge,
            &["company=\"tirecompany\"", "kind=\"secret\"", "id=\"2\""]
        ),
        Some(1_893_456_000.0),
        "{text}"
    );
    assert_eq!(sample(&text, gauge, &["id=\"1\""]), None, "no end, no gauge: {text}");

    // When each last verified a token: only the one that did (the first, which token() signs
    // with) has a time, and it is now.
    let used = "warranty_gateway_credential_last_used_timestamp_seconds";
    assert!(!text.contains(used), "nothing verified yet: {text}");
    let res = reqwest::Client::new()
        .get(server.url("/v2/partners/tirecompany?rec=sales&ShopID=S1&InvoiceNumber=I1"))
        .bearer_auth(token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let text = server.metrics().await;
    let at = sample(&text, used, &["company=\"tirecompany\"", "kind=\"secret\"", "id=\"1\""]).unwrap();
    assert!((at - chrono::Utc::now().timestamp() as f64).abs() <= 5.0, "{text}");
    assert_eq!(sample(&text, used, &["id=\"2\""]), None, "{text}");
}
