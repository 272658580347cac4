//! HTTPS in the binary: with `[server] tls_cert_file` and `tls_key_file` the server speaks TLS
//! itself, HTTP/2 by ALPN and HTTP/1.1, to a real client that trusts a throwaway CA.

use reqwest::{StatusCode, Version};
use serde_json::json;
use warranty_gateway::config::ServerSettings;

use crate::helpers::*;

/// A throwaway CA, and a certificate it signed for localhost and 127.0.0.1, written into `dir`:
/// the CA's PEM, and the server's chain and key files.
fn throwaway_ca(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "warranty-gateway test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca.pem(), cert_file, key_file)
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_https_over_http2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = throwaway_ca(dir.path());
    let app = spawn_app_with(ServerSettings {
        tls_cert_file: Some(cert),
        tls_key_file: Some(key),
        ..server_settings()
    })
    .await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}/v2/partners/{COMPANY}");
    let trusting = || {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
    };
    let body = json!({"Registrations": [registration("S1", "I1")]});
    for (client, version) in [
        (trusting().build().unwrap(), Version::HTTP_2),
        (trusting().http1_only().build().unwrap(), Version::HTTP_11),
    ] {
        let res = client.post(&url).bearer_auth(token()).json(&body).send().await.unwrap();
        assert_eq!((res.status(), res.version()), (StatusCode::OK, version));
        let res = client
            .get(format!("{url}?rec=registrationstatus&ShopID=S1&InvoiceNumber=I1"))
            .bearer_auth(token())
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), version);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["TiresLeft"], 4);
    }
    // A client that does not trust the CA is refused the handshake; plain HTTP gets no answer.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(stranger.get(&url).send().await.is_err());
    assert!(app.client.get(app.url(COMPANY)).send().await.is_err());

    // An operator reads when the certificate ends (rcgen's default: 4096-01-01).
    let operator = trusting().build().unwrap();
    let ops_server = operator.get(format!("https://localhost:{port}/ops/server"));
    let (status, server) = json_of(ops_server.bearer_auth(support()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server["https_certificate_not_after"], "4096-01-01T00:00:00Z",
        "{server}"
    );
    let engine = if app.postgres.is_some() { "postgresql" } else { "sqlite" };
    assert_eq!(server["database"]["engine"], engine);
    assert!(
        server["database"]["size_bytes"].as_u64().is_some_and(|n| n > 0),
        "{server}"
    );
}

#[tokio::test]
async fn a_certificate_that_cannot_be_used_stops_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = throwaway_ca(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let (_, _, other_key) = throwaway_ca(other_dir.path());
    let missing = dir.path().join("nowhere.pem");
    for (cert, key, said) in [
        (missing.clone(), key.clone(), "nowhere.pem"),
        (key.clone(), key.clone(), "no certificate in it"),
        (cert.clone(), cert.clone(), "no private key"),
        (cert.clone(), other_key, "do not go together"),
    ] {
        let settings = ServerSettings {
            tls_cert_file: Some(cert),
            tls_key_file: Some(key),
            ..server_settings()
        };
        let Err(err) = try_spawn_app_with(settings).await else {
            panic!("{said}: the server started");
        };
        assert!(format!("{err:#}").contains(said), "{said}: {err:#}");
    }
}
