//! TLS for `wss://` servers (feature `tls`), with rustls: a server configuration from PEM
//! files, or from a certificate generated at start for development (feature `dev-cert`).
//! The client's side is [`client::tls`](crate::client::tls).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::client::tls::{certs_from_pem, invalid, provider};

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = certs_from_pem(cert)?;
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
    let mut params = rcgen::CertificateParams::new(names).map_err(invalid)?;
    params.distinguished_name = unique_name();
    let key_pair = rcgen::KeyPair::generate().map_err(invalid)?;
    let cert = params.self_signed(&key_pair).map_err(invalid)?;
    let cert_der = cert.der().clone();
    let key = PrivateKeyDer::try_from(key_pair.serialize_der()).map_err(invalid)?;
    let server = server_config(vec![cert_der.clone()], key)?;
    Ok(SelfSigned {
        server,
        cert_pem: cert.pem(),
        cert_der,
    })
}

/// A name no other certificate has (`CN=fullduplex development certificate 3f9a…`). A
/// verifier takes the trusted certificates with the issuer's name as candidates: a client that
/// trusts the certificate of an earlier start would otherwise be told that the signature is
/// bad rather than that it does not know the issuer.
#[cfg(feature = "dev-cert")]
fn unique_name() -> rcgen::DistinguishedName {
    let mut id = [0u8; 8];
    crate::random::OsRandom::new().fill(&mut id);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CommonName,
        format!("fullduplex development certificate {hex}"),
    );
    name
}
