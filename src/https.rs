//! HTTPS in the binary: the server's certificate chain and key (PEM files named by `[server]
//! tls_cert_file` and `tls_key_file`) as rustls takes them, HTTP/2 offered by ALPN beside
//! HTTP/1.1. Without them the server speaks plain HTTP, as behind a reverse proxy. The
//! certificate is read again on a reload: new connections get the new one
//! (docs/configuration.md, "HTTPS without a proxy").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
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
pub struct Certificate(Live<CertifiedKey>);

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get())
    }
}

impl Certificate {
    /// The certificate and key of `files`, read now.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Certificate> {
        Ok(Certificate(Live::new(Arc::new(certified_key(files)?))))
    }

    /// Reads `files` again and offers them to new connections; on an error the current one
    /// stays.
    pub fn reload(&self, files: &TlsFiles) -> anyhow::Result<()> {
        self.0.set(Arc::new(certified_key(files)?));
        Ok(())
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

/// The certificate chain and key of `files`: every error names the file and what is wrong.
fn certified_key(files: &TlsFiles) -> anyhow::Result<CertifiedKey> {
    let chain = read_chain(&files.cert)?;
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
