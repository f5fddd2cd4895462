//! TLS for `wss://` servers (feature `tls`), with rustls: a server configuration from PEM
//! files, or from a certificate generated at start for development (feature `dev-cert`).
//! The client's side is [`client::tls`](crate::client::tls).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::transport::tls::{certs_from_pem, invalid, provider};

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = certs_from_pem(cert)?;
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

/// A certificate made at start for development (feature `dev-cert`), for `localhost` and `127.0.0.1` (and the
/// given extra names).
#[cfg(feature = "dev-cert")]
pub struct SelfSigned {
    /// The server configuration using it.
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate in PEM, for clients to trust.
    pub cert_pem: String,
    /// The certificate in DER.
    pub cert_der: CertificateDer<'static>,
}

/// Generates a self-signed certificate and a server configuration for it.
#[cfg(feature = "dev-cert")]
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
