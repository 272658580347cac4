//! PostgreSQL as managed services run it: TLS only. On a cluster of its own that takes
//! `hostssl` connections only, its certificate signed by a throwaway CA: the gateway reaches it
//! with `sslmode=verify-full&sslrootcert=<the CA>` and serves; another CA, or no TLS at all, is
//! refused at start-up with the reason, the certificate named. (Only when
//! `WARRANTY_GATEWAY_TEST_POSTGRES` is set: it needs Debian's postgresql, openssl and root.)

use serde_json::json;

use crate::binary::*;
use crate::common_cluster::Cluster;

/// A config on the database `url`, in `dir`.
fn config_on(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    write_config_with(dir, &format!("url = \"{url}\"\npool_size = 2"))
}

#[tokio::test]
async fn a_tls_only_server_is_reached_with_verify_full_and_another_ca_is_refused_by_name() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    let cluster = Cluster::start_tls().unwrap();
    assert!(cluster.url.contains("sslmode=verify-full"), "{}", cluster.url);

    // Another CA: start-up stops, naming the certificate it checked against and why.
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = cluster.url.split_once("&sslrootcert=").unwrap();
    let other = format!("{root}&sslrootcert={}", cluster.other_ca());
    let (code, _, err) = run_cli(&["migrate"], &config_on(dir.path(), &other));
    assert_ne!(code, 0);
    assert!(err.contains("other-ca.pem") && err.contains("TLS"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // Without TLS the server refuses (hostssl only), and says so.
    let (base, _) = cluster.url.split_once('?').unwrap();
    let plain = format!("{base}?sslmode=disable");
    let (code, _, err) = run_cli(&["migrate"], &config_on(dir.path(), &plain));
    assert_ne!(code, 0);
    assert!(err.contains("pg_hba.conf") && err.contains("no encryption"), "{err}");

    // A parameter the gateway does not know stops it too, named.
    let typo = format!("{base}?sslmode=verify-full&sslrotcert=/etc/ca.pem");
    let (code, _, err) = run_cli(&["migrate"], &config_on(dir.path(), &typo));
    assert_ne!(code, 0);
    assert!(err.contains("\"sslrotcert\""), "{err}");

    // With its own CA: migrated and served (the server takes nothing but TLS).
    let config = config_on(dir.path(), &cluster.url);
    let (code, out, err) = run_cli(&["migrate"], &config);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied V1__records"), "{out}");
    let server = Server::serve(&config);
    let res = server
        .post("tirecompany", &json!({"Registrations": [registration("TLS1")]}))
        .await;
    assert_eq!(res.status(), 200);
    let res = server
        .get("/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=TLS1")
        .await;
    assert_eq!(res.status(), 200);

    // verify-ca checks the chain (the other CA is refused), require without a root encrypts
    // without checking: libpq's rules.
    let ca = cluster.url.split_once("&sslrootcert=").unwrap().1;
    for (url, taken) in [
        (format!("{base}?sslmode=verify-ca&sslrootcert={ca}"), true),
        (
            format!("{base}?sslmode=verify-ca&sslrootcert={}", cluster.other_ca()),
            false,
        ),
        (format!("{base}?sslmode=require"), true),
        (format!("{base}?sslmode=prefer"), true),
    ] {
        let (code, _, err) = run_cli(&["migrate"], &config_on(dir.path(), &url));
        assert_eq!(code == 0, taken, "{url}: {err}");
    }
}
