//! The command over TLS for real: a server started with `--tls-self-signed` writes its
//! certificate to a file it names and prints its SHA-256 fingerprint; `fullduplex client` and
//! `fullduplex bench` trust it with `--cacert FILE`, skip the check with `-k` (saying so once),
//! and without either refuse it with a sentence that says what to do.

use std::path::{Path, PathBuf};
use std::process::Output;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::apps::tls::{default_cert_path, fingerprint};
use crate::cli::Running;

/// A server the test started; killed when the test ends, however it ends, and its
/// certificate file removed.
struct Started {
    /// Held for its `Drop`, which kills the server.
    _server: Running,
    /// Where it listens (`127.0.0.1:PORT`).
    addr: String,
    /// Where it wrote its certificate.
    cert: PathBuf,
    /// The fingerprint it printed.
    fingerprint: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
    }
}

/// Runs `fullduplex ARGS` (a server with `--tls-self-signed`) and reads what it prints, in the
/// order it prints it: where it listens, where its certificate is, the fingerprint.
fn start(args: &[&str]) -> Started {
    let tls = [
        "--tls-self-signed",
        "--addr",
        "127.0.0.1:0",
        "--threads",
        "1",
    ];
    let server = Running::start(&[args, &tls[..]].concat());
    let after = |marker: &str| -> String {
        let line = server.line_containing(marker);
        line.split_once(marker).expect("the marker").1.to_owned()
    };
    let addr = after(" listening on wss://");
    let cert_line = after(": its certificate, made at start, is in ");
    let (path, _) = cert_line
        .split_once(" (clients trust it with --cacert ")
        .expect(&cert_line);
    let cert = PathBuf::from(path);
    let fingerprint = after(": certificate SHA-256 fingerprint ");
    assert!(cert.is_file(), "{cert:?}");
    Started {
        _server: server,
        addr,
        cert,
        fingerprint,
    }
}

/// Runs `fullduplex ARGS` with `input` on stdin, to its end (bounded).
fn run(args: &[&str], input: &str) -> Output {
    crate::cli::run(args, input.as_bytes())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The certificate of a PEM file.
fn cert_in(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).expect("a PEM certificate")
}

/// A file name in the temporary directory for this test's certificate.
fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fullduplex-test-{}-{name}.pem", std::process::id()))
}

#[test]
fn the_fingerprint_is_the_sha_256_of_the_certificate() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        fingerprint(&CertificateDer::from(b"abc".to_vec())),
        "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
         B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
    );
}

#[test]
fn the_chat_writes_its_certificate_where_it_says_and_prints_its_fingerprint() {
    let chat = start(&["chat", "--quiet"]);
    let addr = chat.addr.parse().expect("an address");
    assert_eq!(chat.cert, default_cert_path(addr));
    assert_eq!(chat.fingerprint, fingerprint(&cert_in(&chat.cert)));
}

#[test]
fn the_client_trusts_the_written_certificate_with_cacert() {
    let out = temp_file("cacert");
    let echo = start(&["echo", "--tls-cert-out", out.to_str().unwrap()]);
    assert_eq!(echo.cert, out);
    let url = format!("wss://{}/", echo.addr);
    let cacert = echo.cert.to_str().unwrap();
    let output = run(&["client", "--cacert", cacert, &url], "hello\nworld\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "hello\nworld\n");
}

#[test]
fn without_cacert_the_client_refuses_the_certificate_and_says_what_to_do() {
    let echo = start(&["echo"]);
    let output = run(&["client", &format!("wss://{}/", echo.addr)], "hello\n");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the server's certificate is not signed by any certificate this client trusts \
             (unknown issuer)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--cacert FILE") && stderr.contains("-k"),
        "{stderr}"
    );
    for debris in ["UnknownIssuer", "{", "Other(", "Io("] {
        assert!(!stderr.contains(debris), "{debris:?} in: {stderr}");
    }
    assert!(output.stdout.is_empty());
}

#[test]
fn insecure_connects_without_checking_and_warns_once() {
    let echo = start(&["echo"]);
    let output = run(
        &["client", "-k", &format!("wss://{}/", echo.addr)],
        "hello\n",
    );
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(text(&output.stdout), "hello\n");
    let warning = "warning: --insecure: the server's certificate is not checked\n";
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
}

#[test]
fn the_load_generator_takes_the_same_trust_options() {
    let out = temp_file("bench");
    let echo = start(&["echo", "--tls-cert-out", out.to_str().unwrap()]);
    let url = format!("wss://{}/", echo.addr);
    let measure = ["--duration", "0.2", "--warmup", "0", "--json"];
    let cacert = echo.cert.to_str().unwrap();
    for trust in [&["--cacert", cacert][..], &["-k"]] {
        let args = [
            &["bench", "echo", &url, "-c", "2", "-s", "16"],
            trust,
            &measure,
        ]
        .concat();
        let output = run(&args, "");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(result["opened"], 2, "{result}");
    }
    let args = [&["bench", "echo", &url, "-c", "2"][..], &measure].concat();
    let output = run(&args, "");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(unknown issuer)"), "{stderr}");
    assert!(stderr.contains("--cacert FILE"), "{stderr}");
}
