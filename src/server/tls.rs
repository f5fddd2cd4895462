//! TLS for `wss://`, with rustls: a server configuration from PEM files or from a certificate
//! generated at start for development, and the client configurations that trust them.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("{}: no certificate found", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(format!("{}: {e}", key.display())))?;
    server_config(certs, key)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<rustls::ServerConfig>> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(invalid)?;
    Ok(Arc::new(config))
}

/// A certificate made at start for development, for `localhost` and `127.0.0.1` (and the
/// given extra names).
pub struct SelfSigned {
    /// The server configuration using it.
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate in PEM, for clients to trust.
    pub cert_pem: String,
    /// The certificate in DER.
    pub cert_der: CertificateDer<'static>,
}

/// Generates a self-signed certificate and a server configuration for it.
pub fn self_signed(extra_names: &[&str]) -> io::Result<SelfSigned> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    names.extend(extra_names.iter().map(|n| n.to_string()));
    let generated = rcgen::generate_simple_self_signed(names).map_err(invalid)?;
    let cert_der = generated.cert.der().clone();
    let key = PrivateKeyDer::try_from(generated.key_pair.serialize_der()).map_err(invalid)?;
    let server = server_config(vec![cert_der.clone()], key)?;
    Ok(SelfSigned {
        server,
        cert_pem: generated.cert.pem(),
        cert_der,
    })
}

/// A client configuration trusting exactly these certificates (e.g. a self-signed one).
pub fn client_config_trusting(
    certs: &[CertificateDer<'static>],
) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert.clone()).map_err(invalid)?;
    }
    client_config(roots)
}

/// A client configuration trusting the certificates of a PEM file.
pub fn client_config_from_pem(ca: &Path) -> io::Result<Arc<rustls::ClientConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
        .map_err(|e| invalid(format!("{}: {e}", ca.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
    client_config_trusting(&certs)
}

/// A client configuration trusting the operating system's roots (where it has any).
pub fn client_config_system_roots() -> io::Result<Arc<rustls::ClientConfig>> {
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
