//! SIGHUP re-reads the config file: a partner's secret rotated and a partner added without a
//! restart, a file that does not load changing nothing, a key that needs a restart said so,
//! and the HTTPS certificate swapped for new connections.

use std::time::{Duration, Instant};

use chrono::Datelike;

use serde_json::json;

use crate::binary::*;
use crate::metrics::sample;

const NEW_SECRET: &str = "rotated-secret-0123456789abcdef0123456789";
const NEWCO_SECRET: &str = "newco-secret-0123456789abcdef0123456789ab";

fn sign(secret: &str, partner_id: i64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"partnerid": partner_id}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The status of a lookup by `company` with `token`.
async fn lookup(server: &Server, company: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(server.url(&format!("/v2/partners/{company}?rec=sales&ShopID=S1&InvoiceNumber=I1")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (up to ten seconds) until `lookup` of `company` with `token` answers `status`.
async fn until(server: &Server, company: &str, token: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while lookup(server, company, token).await != status {
        assert!(Instant::now() < deadline, "{company} never answered {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// tirecompany's credentials as /ops/partners lists them: "secret 1"..., and when each last
/// verified a token.
async fn last_used(server: &Server, operator: &str) -> Vec<(String, Option<String>)> {
    let res = reqwest::Client::new()
        .get(server.url("/ops/partners"))
        .bearer_auth(operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let partner = &body["partners"][0];
    assert_eq!(partner["company"], "tirecompany");
    partner["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!("{} {}", c["kind"].as_str().unwrap(), c["id"].as_str().unwrap()),
                c["last_used_at"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_reload_rotates_a_secret_adds_a_partner_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // On the engine under test (PostgreSQL when WARRANTY_GATEWAY_TEST_POSTGRES is set).
    let (config, _engine) = Engine::write_config(dir.path());
    let original = std::fs::read_to_string(&config).unwrap()
        + "\n[[operators]]\nname = \"olaf\"\nrole = \"support\"\nsecret = \"operator-olafs-own-secret-0123456789abcdef\"\n";
    std::fs::write(&config, &original).unwrap();
    let (code, operator, err) = run_cli(&["token", "--operator", "olaf"], &config);
    assert_eq!(code, 0, "{err}");
    let server = Server::serve(&config);
    let (old, new) = (token(), sign(NEW_SECRET, 1001));
    assert_eq!(lookup(&server, "tirecompany", &old).await, 204);
    assert_eq!(lookup(&server, "tirecompany", &new).await, 401);
    let used_before = last_used(&server, operator.trim()).await;
    assert!(used_before[0].1.is_some(), "{used_before:?}");
    // A lone secret's last use is on its partner's line.
    let (listed, _) = partners_until(&config, |listed| listed.contains("last verified"));
    assert!(
        listed.contains(&format!(
            "from ${SECRET_ENV}, last verified a token at {}",
            used_before[0].1.as_ref().unwrap()
        )),
        "{listed}"
    );

    // The rotation begins: the new secret first, the old one until its end; a partner added.
    let rotating = original.replace(
        &format!("secret_env = \"{SECRET_ENV}\""),
        &format!(
            "secrets = [ {{ secret = \"{NEW_SECRET}\" }}, {{ secret_env = \"{SECRET_ENV}\", not_after = \"2999-12-31\" }} ]"
        ),
    ) + &format!(
        "\n[[partners]]\ncompany = \"newco\"\npartner_id = 4004\nsecret = \"{NEWCO_SECRET}\"\nplan_term_months = 12\n"
    );
    std::fs::write(&config, &rotating).unwrap();
    server.signal(Signal::HUP);
    until(&server, "newco", &sign(NEWCO_SECRET, 4004), 204).await;
    // The old secret, now second, keeps when it was last used; the new one has not been yet.
    assert_eq!(
        last_used(&server, operator.trim()).await,
        [
            ("secret 1".to_owned(), None),
            ("secret 2".to_owned(), used_before[0].1.clone())
        ]
    );
    // `partners`, for an operator at the command line, says the same from the database (every
    // instance's uses): whether the partner still signs with the secret that ends.
    let used = used_before[0].1.clone().unwrap();
    let (listed, warned) = partners_until(&config, |listed| listed.contains("last verified"));
    assert!(
        listed.contains("secret 1: inline, no end, no token verified with it on record, signs `token`'s tokens"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!(
            "secret 2: from ${SECRET_ENV}, until 2999-12-31T23:59:59Z, last verified a token at {used}"
        )),
        "{listed}"
    );
    assert!(!warned.contains("warning"), "{warned}");
    assert_eq!(lookup(&server, "tirecompany", &new).await, 204);
    assert_eq!(lookup(&server, "tirecompany", &old).await, 204);
    let ending = |metrics: &str| {
        sample(
            metrics,
            "warranty_gateway_credential_not_after_timestamp_seconds",
            &["company=\"tirecompany\"", "id=\"2\""],
        )
    };
    let metrics = server.metrics().await;
    assert!(ending(&metrics).is_some(), "{metrics}");
    assert_eq!(
        sample(&metrics, "warranty_gateway_partner_late", &["company=\"newco\""]),
        Some(0.0),
        "{metrics}"
    );

    // The old secret is dropped: a token it verified before the reload is refused after it.
    let rotated = rotating.replace(
        &format!(", {{ secret_env = \"{SECRET_ENV}\", not_after = \"2999-12-31\" }}"),
        "",
    );
    assert_ne!(rotated, rotating);
    std::fs::write(&config, &rotated).unwrap();
    server.signal(Signal::HUP);
    until(&server, "tirecompany", &old, 401).await;
    assert_eq!(lookup(&server, "tirecompany", &new).await, 204);
    // Its end is no longer shown: the alert on it stops, as the rotation guide promises.
    let metrics = server.metrics().await;
    assert_eq!(ending(&metrics), None, "{metrics}");
    assert!(
        !metrics.contains(
            "warranty_gateway_credential_last_used_timestamp_seconds{company=\"tirecompany\",kind=\"secret\",id=\"2\"}"
        ),
        "{metrics}"
    );

    // A file that does not load changes nothing, says why, and is counted.
    std::fs::write(&config, "[server\nbind = ").unwrap();
    server.signal(Signal::HUP);
    let log = server.log_until("config not reloaded");
    // On one line, the TOML error's own layout escaped: a log reader takes each line for an entry.
    let line = log.lines().find(|l| l.contains("config not reloaded")).unwrap();
    assert!(
        line.contains("invalid config file") && line.contains("unclosed table") && line.contains("\\n"),
        "{log}"
    );
    assert_eq!(lookup(&server, "tirecompany", &new).await, 204);
    assert_eq!(lookup(&server, "newco", &sign(NEWCO_SECRET, 4004)).await, 204);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("warranty_gateway_config_reload_failures_total 1"),
        "{metrics}"
    );

    // A key that needs a restart is said so, and the rest applies.
    let moved = rotated
        .replace("bind = \"127.0.0.1:0\"", "bind = \"127.0.0.1:1\"")
        .replace(
            &format!("secret = \"{NEWCO_SECRET}\""),
            "secret = \"newco-secret-rotated-0123456789abcdef0123\"",
        );
    std::fs::write(&config, &moved).unwrap();
    server.signal(Signal::HUP);
    until(&server, "newco", &sign(NEWCO_SECRET, 4004), 401).await;
    let log = server.drain_log();
    assert!(log.contains("needs a restart") && log.contains("server.bind"), "{log}");
    assert_eq!(lookup(&server, "tirecompany", &new).await, 204);

    // A partner removed is unknown at once (its token refused, reason unknown_company), and its
    // gauges go with it.
    let rotated_newco = "newco-secret-rotated-0123456789abcdef0123";
    assert_eq!(lookup(&server, "newco", &sign(rotated_newco, 4004)).await, 204);
    let newco = moved.find("\n[[partners]]\ncompany = \"newco\"").unwrap();
    std::fs::write(&config, &moved[..newco]).unwrap();
    server.signal(Signal::HUP);
    until(&server, "newco", &sign(rotated_newco, 4004), 401).await;
    let metrics = server.metrics().await;
    assert!(!metrics.contains("company=\"newco\""), "{metrics}");
    assert!(metrics.contains("company=\"tirecompany\""), "{metrics}");
}

/// A throwaway CA and a certificate it signed for localhost, valid until midnight (UTC) `days`
/// from today: the CA's PEM, the chain, the key, and that end in seconds since 1970.
pub(crate) fn certificate(days: i64) -> (String, String, String, i64) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let end = (chrono::Utc::now() + chrono::TimeDelta::days(days)).date_naive();
    params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let end = end.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    (ca.pem(), cert.pem(), key.serialize_pem(), end)
}

#[tokio::test]
async fn a_reload_swaps_the_https_certificate_for_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (first_ca, cert, key, first_end) = certificate(90);
    std::fs::write(dir.path().join("tls.pem"), cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), key).unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[server]\n",
        "[server]\ntls_cert_file = \"tls.pem\"\ntls_key_file = \"tls.key\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let server = Server::serve(&config);
    let port = server.address.rsplit(':').next().unwrap().to_owned();
    let healthz = format!("https://localhost:{port}/healthz");
    // A new client each time: a new connection, a new handshake.
    let trusting = |ca: &str| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    assert_eq!(trusting(&first_ca).get(&healthz).send().await.unwrap().status(), 200);
    // The certificate's end, for an alert before clients refuse it.
    let metrics = format!("https://localhost:{port}/metrics");
    let certificate_end = |ca: String| {
        let metrics = metrics.clone();
        async move {
            let text = trusting(&ca).get(&metrics).send().await.unwrap().text().await.unwrap();
            sample(
                &text,
                "warranty_gateway_tls_certificate_not_after_timestamp_seconds",
                &[],
            )
        }
    };
    assert_eq!(certificate_end(first_ca.clone()).await, Some(first_end as f64));
    assert!(!server.drain_log().contains("the HTTPS certificate"));

    // Its replacement was not renewed in time: the log says so as it is read.
    let (second_ca, cert, key, second_end) = certificate(3);
    std::fs::write(dir.path().join("tls.pem"), cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), key).unwrap();
    server.signal(Signal::HUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while trusting(&second_ca).get(&healthz).send().await.is_err() {
        assert!(Instant::now() < deadline, "the new certificate was never offered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(trusting(&first_ca).get(&healthz).send().await.is_err());
    let log = server.log_until("the HTTPS certificate ends in");
    assert!(log.contains("renew it, then reload"), "{log}");
    assert_eq!(certificate_end(second_ca.clone()).await, Some(second_end as f64));

    // A certificate file that cannot be used leaves the current one in place.
    std::fs::write(dir.path().join("tls.pem"), "not a certificate").unwrap();
    server.signal(Signal::HUP);
    let log = server.log_until("config not reloaded");
    assert!(log.contains("tls.pem"), "{log}");
    assert_eq!(trusting(&second_ca).get(&healthz).send().await.unwrap().status(), 200);
}
