//! The command over TLS for real: a server started with `--tls-self-signed` writes its
//! certificate to a file it names and prints its SHA-256 fingerprint; `fullduplex client` and
//! `fullduplex bench` trust it with `--cacert FILE`, skip the check with `-k` (saying so once),
//! and without either refuse it with a sentence that says what to do.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::apps::tls::{default_cert_path, fingerprint};

/// The longest wait for a line from a server, or for a client to end.
const DEADLINE: Duration = Duration::from_secs(30);

/// A server the test started; killed when the test ends, however it ends.
struct Started {
    child: Child,
    /// Where it listens (`127.0.0.1:PORT`).
    addr: String,
    /// Where it wrote its certificate.
    cert: PathBuf,
    /// The fingerprint it printed.
    fingerprint: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cert);
    }
}

/// Runs `fullduplex ARGS` (a server with `--tls-self-signed`) and reads what it prints until its
/// fingerprint.
fn start(args: &[&str]) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .args(args)
        .args([
            "--tls-self-signed",
            "--addr",
            "127.0.0.1:0",
            "--threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let lines = lines_of(child.stdout.take().expect("piped"));
    let mut started = Started {
        child,
        addr: String::new(),
        cert: PathBuf::new(),
        fingerprint: String::new(),
    };
    while started.fingerprint.is_empty() {
        let Ok(line) = lines.recv_timeout(DEADLINE) else {
            panic!("{args:?}: no fingerprint printed within {DEADLINE:?}");
        };
        if let Some((_, addr)) = line.split_once(" listening on wss://") {
            started.addr = addr.to_owned();
        } else if let Some((_, rest)) = line.split_once(": its certificate, made at start, is in ")
        {
            let (path, _) = rest
                .split_once(" (clients trust it with --cacert ")
                .expect(&line);
            started.cert = PathBuf::from(path);
        } else if let Some((_, hex)) = line.split_once(": certificate SHA-256 fingerprint ") {
            started.fingerprint = hex.to_owned();
        }
    }
    assert!(!started.addr.is_empty() && started.cert.is_file());
    started
}

/// The lines `pipe` gives, sent as they come.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Runs `fullduplex ARGS` with `input` on stdin; kills it and fails if it outlives [`DEADLINE`].
fn run(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("piped");
    // A client that fails early may not read it: a broken pipe is no failure of the test.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let err = std::thread::spawn(move || read_all(stderr));
        let out = read_all(stdout);
        let _ = tx.send((out, err.join().expect("the stderr reader")));
    });
    let Ok((stdout, stderr)) = rx.recv_timeout(DEADLINE) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{args:?} ran longer than {DEADLINE:?}");
    };
    let status = child.wait().expect("the exit status");
    Output {
        status,
        stdout,
        stderr,
    }
}

fn read_all(mut pipe: impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes).expect("the pipe reads");
    bytes
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
