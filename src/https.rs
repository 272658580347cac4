//! HTTPS in the binary: the server's certificate chain and key (PEM files named by `[server]
//! tls_cert_file` and `tls_key_file`) as rustls takes them, HTTP/2 offered by ALPN beside
//! HTTP/1.1. Without them the server speaks plain HTTP, as behind a reverse proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the server's certificate chain and private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The rustls server configuration of `files`: every error names the file and what is wrong.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    let chain = read_chain(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| {
        format!(
            "server.tls_key_file {}: no private key in PEM (-----BEGIN PRIVATE KEY-----) could be read",
            files.key.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "server.tls_cert_file {} and tls_key_file {} do not go together (the key is not the certificate's)",
                files.cert.display(),
                files.key.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
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
