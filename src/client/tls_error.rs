//! Why the TLS handshake of a `wss://` connection failed, as a sentence that says what to do
//! (feature `tls`). rustls names what went wrong in its own terms (`UnknownIssuer`,
//! `Other(OtherError(CaUsedAsEndEntity))`); a person needs to read what it means and how to
//! fix it.

use std::fmt;
use std::io;

use rustls::{AlertDescription, CertificateError, InvalidMessage};

/// What TLS refuses in a certificate made by a stock `openssl req -x509`, and how to make one
/// it accepts.
const CA_AS_SERVER: &str = "the server's certificate is a CA certificate (basicConstraints \
    CA:TRUE), which TLS refuses as a server certificate: give the server one made with CA:FALSE \
    and the names clients connect to, e.g. `openssl req -x509 -newkey rsa:2048 -nodes -keyout \
    key.pem -out cert.pem -subj /CN=localhost -addext basicConstraints=critical,CA:FALSE \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1`";

/// A failed TLS handshake, explained. A [`ClientError::Io`](super::ClientError::Io) of kind
/// `InvalidData` carries it ([`ClientError::tls`](super::ClientError::tls) finds it): its
/// `Display` is the sentence; [`cause`](Self::cause) and `source()` give rustls's error.
#[derive(Debug)]
pub struct TlsError {
    sentence: String,
    cause: rustls::Error,
}

impl TlsError {
    /// rustls's error, explained.
    pub fn new(cause: rustls::Error) -> Self {
        Self {
            sentence: sentence(&cause),
            cause,
        }
    }

    /// rustls's error, for a program that acts on it.
    pub fn cause(&self) -> &rustls::Error {
        &self.cause
    }

    /// Whether the server's certificate is a CA certificate (basicConstraints CA:TRUE), which
    /// TLS refuses as a server's.
    pub fn is_ca_used_as_server_certificate(&self) -> bool {
        matches!(&self.cause, rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if is_ca_used_as_end_entity(other))
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence)
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// An I/O error that carries a rustls error, as one that carries the [`TlsError`] explaining
/// it; any other as it is.
pub(crate) fn explain(e: io::Error) -> io::Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(cause) => io::Error::new(io::ErrorKind::InvalidData, TlsError::new(cause.clone())),
        None => e,
    }
}

fn sentence(e: &rustls::Error) -> String {
    use rustls::Error;
    match e {
        Error::InvalidMessage(InvalidMessage::InvalidContentType) => {
            "the server does not speak TLS (its answer is not a TLS record): use ws:// instead \
             of wss://"
                .into()
        }
        Error::InvalidCertificate(certificate) => refused(certificate),
        Error::AlertReceived(alert) => alerted(*alert),
        Error::NoCertificatesPresented => "the server sent no certificate".into(),
        Error::InvalidMessage(m) => {
            format!("the server sent a malformed TLS message ({})", words(m))
        }
        Error::PeerIncompatible(p) => format!(
            "the server's TLS and this client's have nothing in common ({})",
            words(p)
        ),
        Error::PeerMisbehaved(p) => format!("the server broke the TLS protocol ({})", words(p)),
        other => format!("TLS failed: {other}"),
    }
}

/// Why the server's certificate was refused.
fn refused(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "the server's certificate is not signed by any \
            certificate this client trusts (unknown issuer): trust the certificate that signed \
            it, or the certificate itself if it is self-signed"
            .into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => not_valid_for(&expected.to_str(), presented),
        CertificateError::NotValidForName => {
            "the server's certificate is not valid for the URL's host".into()
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the server's certificate expired {} ago: the server needs a new one (or this \
             machine's clock is wrong)",
            span(time.as_secs().saturating_sub(not_after.as_secs()))
        ),
        CertificateError::Expired => "the server's certificate has expired: the server needs \
            a new one (or this machine's clock is wrong)"
            .into(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the server's certificate is valid only in {}: check this machine's clock",
            span(not_before.as_secs().saturating_sub(time.as_secs()))
        ),
        CertificateError::NotValidYet => {
            "the server's certificate is not valid yet: check this machine's clock".into()
        }
        CertificateError::Revoked => "the server's certificate is revoked".into(),
        CertificateError::BadSignature => "the server's certificate has a bad signature: the \
            trusted certificate that has its issuer's name has another key (is it an old copy of \
            a certificate made again since?)"
            .into(),
        CertificateError::BadEncoding => "the server's certificate is malformed".into(),
        CertificateError::InvalidPurpose => {
            "the server's certificate is not for TLS servers (its extended key usage lacks \
             serverAuth)"
                .into()
        }
        CertificateError::Other(other) if is_ca_used_as_end_entity(other) => CA_AS_SERVER.into(),
        CertificateError::Other(other) => format!(
            "the server's certificate was refused ({})",
            words(&other.to_string())
        ),
        other => format!("the server's certificate was refused ({})", words(other)),
    }
}

/// Whether webpki refused a CA certificate as the server's. rustls passes webpki's error on
/// as an `OtherError` whose text is the variant's name; webpki is not a dependency of ours to
/// downcast to (`tests/runtime_tls.rs` checks that this still holds).
fn is_ca_used_as_end_entity(other: &rustls::OtherError) -> bool {
    other.to_string() == "CaUsedAsEndEntity"
}

/// A name mismatch: which names the certificate has, if any.
fn not_valid_for(host: &str, presented: &[String]) -> String {
    let names: Vec<&str> = presented.iter().filter_map(|p| presented_name(p)).collect();
    if names.is_empty() {
        return format!(
            "the server's certificate names no host (it has no subjectAltName, and TLS ignores \
             the common name, CN): give the server one whose subjectAltName has {host}"
        );
    }
    format!(
        "the server's certificate is for {}, not {host}: connect to one of those names, or give \
         the server a certificate for {host}",
        names.join(", ")
    )
}

/// The name in webpki's description of a certificate's name (`DnsName("localhost")`,
/// `IpAddress(127.0.0.1)`); `None` for other kinds (a directory name, a URI).
fn presented_name(presented: &str) -> Option<&str> {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
}

/// The alert the server ended the handshake with, and what it usually means.
fn alerted(alert: AlertDescription) -> String {
    let meaning = match alert {
        AlertDescription::HandshakeFailure => {
            ": no cipher suite or key exchange in common, or it wants a client certificate"
        }
        AlertDescription::ProtocolVersion => {
            ": no TLS version in common (this client speaks TLS 1.2 and 1.3)"
        }
        AlertDescription::UnrecognisedName => ": it has no certificate for the URL's host",
        AlertDescription::CertificateRequired => {
            ": it wants a client certificate, which this client does not send"
        }
        _ => "",
    };
    let name = match alert {
        AlertDescription::Unknown(code) => code.to_string(),
        known => format!("\"{}\"", words(&known)),
    };
    format!("the server refused the TLS handshake (alert {name}){meaning}")
}

/// A length of time in its largest whole unit: "3 days", "1 hour", "40 seconds".
fn span(secs: u64) -> String {
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural}")
}

/// A name of rustls's or webpki's (`UnknownCA`, `Tls12NotOffered`, `TrailingData("x")`) as
/// lower-case words ("unknown ca", "tls12 not offered", "trailing data"), without its data and
/// without the `Context` that names rustls's variants with data.
fn words(name: &dyn fmt::Debug) -> String {
    let text = format!("{name:?}");
    let name = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    let name = name.strip_suffix("Context").unwrap_or(name);
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_words_without_their_data() {
        assert_eq!(words(&AlertDescription::UnknownCA), "unknown ca");
        assert_eq!(
            words(&InvalidMessage::TrailingData("ServerHello")),
            "trailing data"
        );
        assert_eq!(
            words(&rustls::PeerIncompatible::Tls12NotOffered),
            "tls12 not offered"
        );
        #[derive(Debug)]
        enum Named {
            InvalidPurposeContext { _required: u8 },
        }
        let named = Named::InvalidPurposeContext { _required: 1 };
        assert_eq!(words(&named), "invalid purpose");
    }

    #[test]
    fn an_alert_is_named_in_words_or_by_its_number() {
        assert_eq!(
            alerted(AlertDescription::CertificateRequired),
            "the server refused the TLS handshake (alert \"certificate required\"): it wants a \
             client certificate, which this client does not send"
        );
        assert_eq!(
            alerted(AlertDescription::Unknown(99)),
            "the server refused the TLS handshake (alert 99)"
        );
    }

    #[test]
    fn a_name_mismatch_lists_the_certificates_names() {
        let presented = [
            "DnsName(\"example.com\")".to_owned(),
            "IpAddress(192.0.2.1)".to_owned(),
            "DirectoryName".to_owned(),
        ];
        assert_eq!(
            not_valid_for("localhost", &presented),
            "the server's certificate is for example.com, 192.0.2.1, not localhost: connect to \
             one of those names, or give the server a certificate for localhost"
        );
        assert!(not_valid_for("localhost", &[]).contains("names no host"));
    }

    #[test]
    fn spans_read_in_their_largest_unit() {
        assert_eq!(span(1), "1 second");
        assert_eq!(span(150), "2 minutes");
        assert_eq!(span(7200), "2 hours");
        assert_eq!(span(86_400 * 400), "400 days");
    }

    #[test]
    fn an_explained_error_keeps_rustls_error_as_its_source() {
        let cause = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let e = explain(io::Error::new(io::ErrorKind::InvalidData, cause.clone()));
        assert!(e
            .to_string()
            .starts_with("the server's certificate is not signed"));
        let tls = e.get_ref().unwrap().downcast_ref::<TlsError>().unwrap();
        assert_eq!(tls.cause(), &cause);
        let plain = explain(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(plain.kind(), io::ErrorKind::ConnectionReset);
    }
}
