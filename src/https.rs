//! HTTPS in the binary: the server's certificate chain and key (PEM files named by `[server]
//! tls_cert_file` and `tls_key_file`) as rustls takes them, HTTP/2 offered by ALPN beside
//! HTTP/1.1. Without them the server speaks plain HTTP, as behind a reverse proxy. The
//! certificate is read again on a reload: new connections get the new one
//! (docs/configuration.md, "HTTPS without a proxy").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::live::Live;

/// Where the server's certificate chain and private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The certificate every new connection is offered; a reload puts another in its place.
#[derive(Debug)]
pub struct Certificate(Live<Loaded>);

/// What a certificate file was read as: the chain and key, and when the server's own
/// certificate stops being valid (its notAfter), for the log and the metric.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    not_after: DateTime<Utc>,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.get().key))
    }
}

impl Certificate {
    /// The certificate and key of `files`, read now.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Certificate> {
        let loaded = load(files)?;
        warn_when_it_ends(files, loaded.not_after, Utc::now());
        Ok(Certificate(Live::new(Arc::new(loaded))))
    }

    /// Reads `files` again and offers them to new connections; on an error the current one
    /// stays.
    pub fn reload(&self, files: &TlsFiles) -> anyhow::Result<()> {
        let loaded = load(files)?;
        warn_when_it_ends(files, loaded.not_after, Utc::now());
        self.0.set(Arc::new(loaded));
        Ok(())
    }

    /// When the certificate offered now stops being valid.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.0.get().not_after
    }
}

/// How long before its end a certificate is said to be ending: Let's Encrypt's renewals run 30
/// days before, so a certificate this close to its end was not renewed.
const ENDING_WITHIN: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// Warns in the log when the certificate ends within [`ENDING_WITHIN`] of `now` (or has
/// ended): clients refuse a certificate past its end, every partner's upload with it.
fn warn_when_it_ends(files: &TlsFiles, not_after: DateTime<Utc>, now: DateTime<Utc>) {
    if let Some(said) = ending(not_after, now) {
        tracing::warn!(
            file = %files.cert.display(),
            not_after = %not_after.to_rfc3339(),
            "the HTTPS certificate {said}: renew it, then reload (kill -HUP)"
        );
    }
}

/// "ends in 3 days", "has ended", or nothing when it ends beyond [`ENDING_WITHIN`].
pub fn ending(not_after: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let left = not_after - now;
    if left <= chrono::TimeDelta::zero() {
        Some("has ended: clients refuse it".to_owned())
    } else if left < ENDING_WITHIN {
        let days = left.num_days();
        Some(match days {
            0 => match left.num_hours() {
                0 => "ends within the hour".to_owned(),
                1 => "ends in 1 hour".to_owned(),
                n => format!("ends in {n} hours"),
            },
            1 => "ends in 1 day".to_owned(),
            n => format!("ends in {n} days"),
        })
    } else {
        None
    }
}

/// The rustls server configuration offering `certificate`.
pub fn server_config(certificate: Arc<Certificate>) -> anyhow::Result<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificate chain and key of `files`, and the end of the server's certificate: every
/// error names the file and what is wrong.
fn load(files: &TlsFiles) -> anyhow::Result<Loaded> {
    let chain = read_chain(&files.cert)?;
    let not_after = not_after(&chain[0]).with_context(|| {
        format!(
            "server.tls_cert_file {}: its first certificate is not a readable X.509 certificate",
            files.cert.display()
        )
    })?;
    Ok(Loaded {
        key: Arc::new(certified_key(files, chain)?),
        not_after,
    })
}

/// When `certificate` (DER) stops being valid.
fn not_after(certificate: &CertificateDer<'_>) -> anyhow::Result<DateTime<Utc>> {
    use x509_cert::der::Decode;
    let parsed = x509_cert::Certificate::from_der(certificate)?;
    let end = parsed.tbs_certificate.validity.not_after.to_unix_duration();
    DateTime::from_timestamp(i64::try_from(end.as_secs())?, 0).context("notAfter beyond the dates this server knows")
}

/// The certificate chain and key of `files`.
fn certified_key(files: &TlsFiles, chain: Vec<CertificateDer<'static>>) -> anyhow::Result<CertifiedKey> {
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| {
        format!(
            "server.tls_key_file {}: no private key in PEM (-----BEGIN PRIVATE KEY-----) could be read",
            files.key.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, &provider()).with_context(|| {
        format!(
            "server.tls_cert_file {} and tls_key_file {} do not go together (the key is not the certificate's)",
            files.cert.display(),
            files.key.display()
        )
    })
}

/// A PEM certificate chain, the server's own certificate first.
fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "server.tls_cert_file {}: cannot read its PEM certificates",
                path.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "server.tls_cert_file {}: no certificate in it (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(chain)
}

/// ring, as for the database's TLS: it builds with nothing but a C compiler, on a fresh machine.
/// rustls deprecates it for lacking post-quantum key exchange (aws-lc-rs has it, and needs
/// CMake to build); a deployment that wants it terminates TLS in a proxy in front.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_said_to_end_within_two_weeks_of_its_end() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T08:00:00Z").unwrap().to_utc();
        let at = |rfc3339: &str| DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc();
        for (not_after, said) in [
            ("2027-03-07T00:00:00Z", None),
            ("2026-12-21T08:00:00Z", None),
            ("2026-12-21T07:59:59Z", Some("ends in 13 days")),
            ("2026-12-09T00:00:00Z", Some("ends in 1 day")),
            ("2026-12-07T20:00:00Z", Some("ends in 12 hours")),
            ("2026-12-07T09:30:00Z", Some("ends in 1 hour")),
            ("2026-12-07T08:59:00Z", Some("ends within the hour")),
            ("2026-12-07T08:00:00Z", Some("has ended: clients refuse it")),
            ("2026-01-01T00:00:00Z", Some("has ended: clients refuse it")),
        ] {
            assert_eq!(ending(at(not_after), now).as_deref(), said, "{not_after}");
        }
    }

    #[test]
    fn the_end_of_a_certificate_is_read_from_it() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2027, 3, 7);
        let cert = params.self_signed(&key).unwrap();
        let end = not_after(cert.der()).unwrap();
        assert_eq!(end.to_rfc3339(), "2027-03-07T00:00:00+00:00");
        assert!(not_after(&CertificateDer::from(b"not a certificate".to_vec())).is_err());
    }
}
