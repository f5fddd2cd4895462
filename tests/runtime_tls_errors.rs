//! What a client says when TLS fails: the wrong scheme either way (`wss://` to a plain server,
//! `ws://` to a TLS one) and each kind of refused certificate (a CA certificate, an unknown
//! issuer, other names, expired). Each is one sentence that says what to do, the same from the
//! blocking client and from a `MultiClient`, with no `Debug` output of rustls's errors in it.
#![cfg(feature = "dev-cert")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::runtime::*;
use fullduplex::client::ClientError;
use fullduplex::client::{self, ClientConn, ClientHandler, ClientId, ClientOptions, Ended};
use fullduplex::protocol::Message;
use fullduplex::server::{tls, Server};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate made for a test and a server configuration that uses it.
struct Issued {
    server: Arc<rustls::ServerConfig>,
    der: CertificateDer<'static>,
}

/// A self-signed certificate for `names`, shaped by `shape` (CA or not, validity).
fn issue(names: &[&str], shape: impl FnOnce(&mut CertificateParams)) -> Issued {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    shape(&mut params);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().clone();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![der.clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    Issued {
        server: Arc::new(server),
        der,
    }
}

fn tls_server(config: Arc<rustls::ServerConfig>) -> TestServer {
    let (app, _events) = TestApp::new();
    let server = Server::new(server_config(test_config()), app)
        .with_tls(config)
        .bind("127.0.0.1:0")
        .unwrap();
    TestServer::from(server)
}

fn wss_url(server: &TestServer) -> String {
    format!("wss://localhost:{}/", server.local_addr().port())
}

fn trusting(cert: &CertificateDer<'static>) -> ClientOptions {
    ClientOptions {
        tls: Some(client::tls::trusting(std::slice::from_ref(cert)).unwrap()),
        ..ClientOptions::default()
    }
}

/// The blocking client's error connecting to `url`.
fn blocking_error(url: &str, options: &ClientOptions) -> ClientError {
    match client::connect_with(url, options) {
        Err(e) => e,
        Ok(_) => panic!("connected to {url}"),
    }
}

/// Why a connection to `url` failed, in the words of both clients: checked to be the same
/// sentence, free of rustls's `Debug` output.
fn failure(url: &str, options: &ClientOptions) -> String {
    let sentence = blocking_error(url, options).to_string();
    assert_eq!(
        multi_client_failure(url, options),
        format!("could not connect: {sentence}")
    );
    for debris in ["{", "}", "(\"", "Other(", "Error(", "Io(", "kind:"] {
        assert!(!sentence.contains(debris), "{debris:?} in: {sentence}");
    }
    sentence
}

/// How each connection ended, as said.
#[derive(Default)]
struct Ends(Vec<String>);

impl ClientHandler for Ends {
    fn on_message(&mut self, _: &mut ClientConn<'_>, _: Message<'_>) {}

    fn on_end(&mut self, _: ClientId, ended: &Ended) {
        self.0.push(ended.to_string());
    }
}

/// How a `MultiClient`'s connection to `url` ended.
fn multi_client_failure(url: &str, options: &ClientOptions) -> String {
    let mut clients = multi_client(options.clone());
    clients.connect(url).unwrap();
    let mut ends = Ends::default();
    let deadline = Instant::now() + DEADLINE;
    while !clients.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{url}: the connection did not end"
        );
        clients
            .poll(&mut ends, Some(Duration::from_millis(50)))
            .unwrap();
    }
    assert_eq!(ends.0.len(), 1, "{:?}", ends.0);
    ends.0.remove(0)
}

#[test]
fn wss_to_a_plain_server_says_it_does_not_speak_tls() {
    let (server, _events) = start_app(test_config());
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    assert_eq!(
        failure(&url, &ClientOptions::default()),
        "the server does not speak TLS (its answer is not a TLS record): use ws:// instead of \
         wss://"
    );
}

#[test]
fn ws_to_a_tls_server_says_it_speaks_tls() {
    let server = tls_server(tls::self_signed(&[]).unwrap().server);
    let url = ws_url(server.local_addr(), "/");
    assert_eq!(
        failure(&url, &ClientOptions::default()),
        "the server speaks TLS: use wss:// instead of ws://"
    );
}

#[test]
fn a_ca_certificate_as_the_servers_says_how_to_make_one_tls_accepts() {
    let ca = issue(&["localhost"], |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    });
    let server = tls_server(ca.server);
    let url = wss_url(&server);
    let sentence = failure(&url, &trusting(&ca.der));
    assert!(
        sentence.starts_with(
            "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which TLS \
             refuses as a server certificate: "
        ),
        "{sentence}"
    );
    assert!(
        sentence.contains("-addext basicConstraints=critical,CA:FALSE"),
        "{sentence}"
    );
    // Trusted or not, the certificate's shape is what TLS refuses first.
    let untrusted = trusting(&tls::self_signed(&[]).unwrap().cert_der);
    let error = blocking_error(&url, &untrusted);
    assert!(error.tls().unwrap().is_ca_used_as_server_certificate());
    assert_eq!(error.to_string(), sentence);
}

#[test]
fn an_untrusted_certificate_says_to_trust_its_issuer() {
    let server = tls_server(tls::self_signed(&[]).unwrap().server);
    let other = tls::self_signed(&[]).unwrap();
    let options = trusting(&other.cert_der);
    assert_eq!(
        failure(&wss_url(&server), &options),
        "the server's certificate is not signed by any certificate this client trusts (unknown \
         issuer): trust the certificate that signed it, or the certificate itself if it is \
         self-signed"
    );
    let error = blocking_error(&wss_url(&server), &options);
    assert_eq!(
        error.tls().map(|tls| tls.cause()),
        Some(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );
}

#[test]
fn trusting_a_certificate_made_again_since_is_a_bad_signature() {
    // Both have rcgen's default name: the trusted one looks like the issuer, with another key.
    let current = issue(&["localhost"], |_| {});
    let old_copy = issue(&["localhost"], |_| {});
    let server = tls_server(current.server);
    assert_eq!(
        failure(&wss_url(&server), &trusting(&old_copy.der)),
        "the server's certificate has a bad signature: the trusted certificate that has its \
         issuer's name has another key (is it an old copy of a certificate made again since?)"
    );
}

#[test]
fn a_certificate_for_other_names_says_which_names_it_has() {
    let elsewhere = issue(&["example.invalid", "192.0.2.7"], |_| {});
    let server = tls_server(elsewhere.server);
    assert_eq!(
        failure(&wss_url(&server), &trusting(&elsewhere.der)),
        "the server's certificate is for example.invalid, 192.0.2.7, not localhost: connect to \
         one of those names, or give the server a certificate for localhost"
    );
}

#[test]
fn an_expired_certificate_says_how_long_ago() {
    let expired = issue(&["localhost"], |params| {
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    });
    let server = tls_server(expired.server);
    let sentence = failure(&wss_url(&server), &trusting(&expired.der));
    let days = sentence
        .strip_prefix("the server's certificate expired ")
        .and_then(|rest| rest.split_once(" days ago: the server needs a new one"))
        .and_then(|(days, _)| days.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{sentence}"));
    assert!(days > 365 * 20, "{sentence}");
}
