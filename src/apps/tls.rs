//! TLS for the command's servers and clients: a server's certificate (PEM files, or one made at
//! start that the server writes to a file and names, with its fingerprint, for its clients to
//! trust), the clients' trust options (`--cacert FILE`, `-k`) shared by `client` and `bench`,
//! and what to do when a certificate is refused.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use fullduplex::client::ClientError;
use fullduplex::server::tls::{self_signed, server_config_from_pem, SelfSigned};

use super::cli::ListenArgs;

/// A server's TLS: from PEM files, or a certificate made at start (`--tls-self-signed`).
pub enum ServerTls {
    /// `--tls-cert FILE --tls-key FILE`.
    Files(Arc<rustls::ServerConfig>),
    /// `--tls-self-signed`: written to a file once the server listens, for clients to trust.
    SelfSigned(SelfSigned),
}

impl ServerTls {
    /// The TLS the listening options ask for, if any.
    pub fn from_args(args: &ListenArgs) -> Result<Option<Self>, String> {
        if args.tls_self_signed {
            // It names localhost and 127.0.0.1; and the address it listens on, if another.
            let ip = args.addr.socket.ip();
            let extra = (!ip.is_unspecified() && ip != Ipv4Addr::LOCALHOST).then(|| ip.to_string());
            let names: Vec<&str> = extra.iter().map(String::as_str).collect();
            let generated =
                self_signed(&names).map_err(|e| format!("cannot make a certificate: {e}"))?;
            return Ok(Some(Self::SelfSigned(generated)));
        }
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => server_config_from_pem(cert, key)
                .map(|config| Some(Self::Files(config)))
                .map_err(|e| format!("cannot load the TLS certificate or key: {e}")),
            _ => Ok(None),
        }
    }

    /// The server's configuration.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        match self {
            Self::Files(config) => config.clone(),
            Self::SelfSigned(generated) => generated.server.clone(),
        }
    }

    /// Once the server listens on `addr`: writes a certificate made at start to `out` (or
    /// [`default_cert_path`]) and prints where it is and its fingerprint.
    pub fn announce(&self, out: Option<&Path>, addr: SocketAddr, what: &str) -> Result<(), String> {
        let Self::SelfSigned(generated) = self else {
            return Ok(());
        };
        let path = out.map_or_else(|| default_cert_path(addr), Path::to_path_buf);
        write_replacing(&path, generated.cert_pem.as_bytes()).map_err(|e| {
            format!(
                "cannot write the certificate to {}: {e}: choose another file with \
                 --tls-cert-out FILE",
                path.display()
            )
        })?;
        println!(
            "fullduplex {what}: its certificate, made at start, is in {} (clients trust it with \
             --cacert {0})",
            path.display()
        );
        println!(
            "fullduplex {what}: certificate SHA-256 fingerprint {}",
            fingerprint(&generated.cert_der)
        );
        Ok(())
    }
}

/// Where a server listening on `addr` writes the certificate it made at start:
/// `$XDG_RUNTIME_DIR` (the user's own) or else the temporary directory, as
/// `fullduplex-IP-PORT.pem` (an IPv6 address with `_` for `:`).
pub fn default_cert_path(addr: SocketAddr) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let ip = addr.ip().to_string().replace(':', "_");
    dir.join(format!("fullduplex-{ip}-{}.pem", addr.port()))
}

/// Writes `bytes` to `path` through a new file renamed over it, so that a file or symbolic
/// link someone else left at `path` (in a shared temporary directory) is replaced, never
/// written through.
fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?
        .to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let fresh = path.with_file_name(name);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&fresh)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&fresh, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
    written
}

/// A certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it: the
/// hash of its DER in upper-case hexadecimal pairs joined by `:`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let pairs: Vec<String> = hash.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// How a client trusts servers' certificates for `wss://` (`client` and `bench`).
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// For wss://, trust the certificates in this PEM file (such as the one a server started
    /// with --tls-self-signed writes) instead of the system's roots.
    #[arg(long, alias = "ca", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// For wss://, accept any certificate without checking it (for testing: anyone on the way
    /// can pose as the server).
    #[arg(short = 'k', long, conflicts_with = "cacert")]
    pub insecure: bool,
}

impl TrustArgs {
    /// The TLS configuration these options ask for (`None`: the system's roots). With `-k`,
    /// says once on stderr that certificates go unchecked.
    pub fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        if self.insecure {
            eprintln!("warning: --insecure: the server's certificate is not checked");
            return insecure_config().map(Some);
        }
        let Some(file) = &self.cacert else {
            return Ok(None);
        };
        fullduplex::client::tls::from_pem_file(file)
            .map(Some)
            .map_err(|e| format!("--cacert: {e}"))
    }
}

/// What the command's options can do about a refused certificate, to follow the library's
/// sentence.
pub fn hint(error: &ClientError) -> Option<&'static str> {
    let tls = error.tls()?;
    if tls.is_ca_used_as_server_certificate() {
        return Some(
            "a fullduplex server makes a valid one with --tls-self-signed; -k skips the check",
        );
    }
    match tls.cause() {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => Some(
            "with --cacert FILE: a server started with --tls-self-signed names its file when it \
             starts; or skip the check with -k",
        ),
        rustls::Error::InvalidCertificate(_) => Some("-k skips the check"),
        _ => None,
    }
}

/// A client configuration that accepts any certificate (`-k`).
fn insecure_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set TLS up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Dangerous: a verifier that takes any certificate for any name (`-k`). The handshake's
/// signatures are still checked (the server holds the key of the certificate it sent), but
/// not who the certificate belongs to, so anyone on the way can pose as the server.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_certificate_file_is_named_after_the_address() {
        let v4 = default_cert_path("127.0.0.1:8443".parse().unwrap());
        assert!(v4.ends_with("fullduplex-127.0.0.1-8443.pem"), "{v4:?}");
        let v6 = default_cert_path("[::1]:9001".parse().unwrap());
        assert!(v6.ends_with("fullduplex-__1-9001.pem"), "{v6:?}");
    }
}
