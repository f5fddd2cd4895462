//! TLS for `wss://` clients (feature `tls`, or `tokio-tls` for the tokio adapter), with rustls: which servers' certificates to
//! trust. [`ClientOptions::tls`](super::ClientOptions::tls) takes one of these. A handshake
//! that fails says why in a [`TlsError`].

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

pub use super::tls_error::TlsError;

/// A client configuration trusting exactly these certificates (e.g. a self-signed one).
pub fn trusting(certs: &[CertificateDer<'static>]) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert.clone()).map_err(invalid)?;
    }
    client_config(roots)
}

/// A client configuration trusting the certificates of a PEM file.
pub fn from_pem_file(ca: &Path) -> io::Result<Arc<rustls::ClientConfig>> {
    trusting(&certs_from_pem(ca)?)
}

/// A client configuration trusting the operating system's roots (where it has any).
pub fn system_roots() -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    client_config(roots)
}

fn client_config(roots: rustls::RootCertStore) -> io::Result<Arc<rustls::ClientConfig>> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The cryptography rustls uses here: *ring*.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An error about a certificate or key, as an I/O error of kind `InvalidData`.
pub(crate) fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// The certificates of a PEM file: at least one.
pub(crate) fn certs_from_pem(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{} holds no certificate (a PEM block -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}
