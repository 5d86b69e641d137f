//! The Keeper server's TLS (`local-runner keeper --tls-cert FILE --tls-key FILE`): a PEM
//! certificate chain and its private key, on rustls with aws-lc-rs (the crypto the AWS SDK
//! already brings), TLS 1.2 and 1.3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS configuration could not be loaded; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the certificate chain {}", .0.display())]
    Cert(
        PathBuf,
        #[source] tokio_rustls::rustls::pki_types::pem::Error,
    ),
    #[error("{} holds no certificate", .0.display())]
    NoCert(PathBuf),
    #[error("reading the private key {}", .0.display())]
    Key(
        PathBuf,
        #[source] tokio_rustls::rustls::pki_types::pem::Error,
    ),
    #[error("the certificate and the key do not make a TLS configuration")]
    Config(#[source] tokio_rustls::rustls::Error),
}

/// The acceptor for `cert` (PEM, leaf first) and `key` (PEM, PKCS#8, PKCS#1 or SEC1).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert(cert.to_owned(), e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCert(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key(key.to_owned(), e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    // The protocol is HTTP/1.1 only (docs/keeper.md).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
