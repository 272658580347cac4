//! A PostgreSQL URL's connection: the driver's settings and the TLS its libpq parameters ask
//! for (read by `crate::database_url`), as a rustls configuration (docs/postgresql.md, "TLS").

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::database_url::{DatabaseUrl, SslMode};

/// Where and how to connect.
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub ssl_mode: SslMode,
    /// The CA file the server's certificate must chain to, when one is named.
    pub root_cert: Option<PathBuf>,
}

/// Reads `url`: its connection settings and its TLS. The message of an error names the
/// parameter or the file at fault.
pub fn parse(url: &str) -> Result<Target, String> {
    let DatabaseUrl {
        driver_url,
        ssl_mode,
        root_cert,
    } = DatabaseUrl::parse(url)?;
    let mut config: tokio_postgres::Config = driver_url.parse().map_err(|e| format!("{e}"))?;
    config.ssl_mode(match ssl_mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let roots = root_cert.as_deref().map(read_roots).transpose()?;
    let tls = MakeRustlsConnect::new(client_config(ssl_mode, roots)?);
    Ok(Target {
        config,
        tls,
        ssl_mode,
        root_cert,
    })
}

/// The certificates of a PEM file.
fn read_roots(path: &std::path::Path) -> Result<RootCertStore, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {}: no certificate in it", path.display()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    }
    Ok(roots)
}

/// ring, not aws-lc-rs: it builds with nothing but a C compiler, quickly, on a fresh machine.
/// rustls deprecates it for lacking post-quantum key exchange, which a link to the database on
/// the operator's own network does not need.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Target {
    /// What the server's certificate is checked against, for an error that refused it.
    pub fn certificate_check(&self) -> String {
        let mode = self.ssl_mode.into_str();
        match &self.root_cert {
            Some(path) => format!(
                "sslmode={mode} checks it against the CA certificate in sslrootcert {}",
                path.display()
            ),
            None => format!("sslmode={mode}, no sslrootcert"),
        }
    }
}

/// rustls's reason when `e` is a TLS refusal (of the server's certificate, say).
pub fn tls_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(tls) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        next = e.source();
    }
    None
}

/// libpq's rules, in rustls: verify-full checks the chain and the host name; verify-ca the
/// chain only; require and prefer check the chain only when a root certificate is given (as
/// libpq does with a root.crt), else they encrypt without checking who answers.
fn client_config(mode: SslMode, roots: Option<RootCertStore>) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?,
        (_, roots) => {
            let chain = match roots {
                Some(roots) => Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                        .build()
                        .map_err(|e| e.to_string())?,
                ),
                None => None,
            };
            Arc::new(AnyName {
                chain,
                algorithms: provider.signature_verification_algorithms,
            })
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// verify-ca (and require or prefer with a root certificate): the certificate must chain to
/// the root, whatever host name it carries. Without a root (prefer and require, as libpq):
/// encrypted, the certificate not checked (say verify-full to check it). Either way the
/// handshake's signatures are verified.
#[derive(Debug)]
struct AnyName {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_gets_the_rest_of_the_url_and_tls_its_mode() {
        let t = parse("postgres://gw:secret@db.internal:6432/warranty").unwrap();
        assert_eq!(t.ssl_mode, SslMode::Prefer, "libpq's default");
        assert_eq!(t.config.get_dbname(), Some("warranty"));
        assert_eq!(t.config.get_ports(), [6432]);
        let t = parse("postgresql://gw@db/w?sslmode=disable&connect_timeout=7&application_name=gw-1").unwrap();
        assert_eq!(t.config.get_connect_timeout(), Some(&std::time::Duration::from_secs(7)));
        assert_eq!(t.config.get_application_name(), Some("gw-1"));
        assert_eq!(t.config.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
        let t = parse("postgres://gw@db/w?sslmode=require").unwrap();
        assert_eq!(t.config.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        let e = parse("postgres://gw@db/w?sslrotcert=/ca.pem").err().unwrap();
        assert!(e.contains("\"sslrotcert\""), "{e}");
        let e = parse("postgres://gw@db/w?sslmode=verify-ca&sslrootcert=/no/such/ca.pem")
            .err()
            .unwrap();
        assert!(e.contains("/no/such/ca.pem"), "{e}");
    }
}
