//! Running an example as a user does: built by Cargo, started as a process on port 0, its
//! address read from what it prints; killed when the test is done with it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Instant;

use super::DEADLINE;

/// The examples this build of the tests can run: those whose required features are on.
fn buildable() -> Vec<&'static str> {
    let mut names = vec!["sans_io_echo"];
    if cfg!(feature = "runtime") {
        names.extend(["echo_server", "client", "pubsub"]);
    }
    if cfg!(feature = "tokio") {
        names.push("tokio_echo");
        names.push("axum_route");
    }
    names
}

/// The library's features in this build, for building the examples with the same ones (so
/// that Cargo reuses the library the tests were built with).
fn features() -> Vec<&'static str> {
    let all = [
        ("runtime", cfg!(feature = "runtime")),
        ("tls", cfg!(feature = "tls")),
        ("dev-cert", cfg!(feature = "dev-cert")),
        ("cli", cfg!(feature = "cli")),
        ("tokio", cfg!(feature = "tokio")),
        ("tokio-tls", cfg!(feature = "tokio-tls")),
    ];
    all.into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
}

/// The path of example `name`'s executable, built (once per test process, all examples in
/// one run of Cargo) with this build's profile and features. Cargo gives a test the path of
/// the package's binaries but not of its examples: it says where it put them in its JSON
/// messages.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<HashMap<String, PathBuf>, String>> = OnceLock::new();
    let built = BUILT
        .get_or_init(build)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    built
        .get(name)
        .unwrap_or_else(|| panic!("no example {name} in {built:?}"))
        .clone()
}

fn build() -> Result<HashMap<String, PathBuf>, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args([
        "build",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
    ]);
    cargo.arg(manifest).arg("--no-default-features");
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let features = features();
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    for name in buildable() {
        cargo.args(["--example", name]);
    }
    // What Cargo set for this test process describes this package; a dependency's build script
    // that watches one of these (ring watches `CARGO_MANIFEST_DIR`) would otherwise be rerun,
    // and everything above it rebuilt, at every run of the tests and again after them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let prefixes = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_EXE_",
            "CARGO_CRATE_",
        ];
        let others = ["CARGO_TARGET_TMPDIR", "CARGO_PRIMARY_PACKAGE"];
        if prefixes.iter().any(|p| name.starts_with(p)) || others.contains(&&*name) {
            cargo.env_remove(&*name);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cargo.output().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "{cargo:?} failed:\n{}",
            String::from_utf8_lossy(&stderr)
        ));
    }
    let messages = String::from_utf8_lossy(&stdout);
    let executables = messages.lines().filter_map(|line| {
        let (_, rest) = line.split_once(r#""executable":""#)?;
        let path = PathBuf::from(rest.split('"').next()?);
        Some((path.file_name()?.to_str()?.to_owned(), path))
    });
    Ok(executables.collect())
}

/// A running example; killed on drop.
pub struct Example {
    _process: Killed,
    /// What it prints, on standard output or standard error, line by line.
    lines: mpsc::Receiver<String>,
    /// Where it listens, as `127.0.0.1:PORT`.
    pub addr: String,
}

impl Example {
    /// Starts example `name` with `args` (which give it port 0) and waits until it says on
    /// which address it listens.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut child = spawn(name, args);
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward_lines(stdout, tx.clone());
        forward_lines(stderr, tx);
        let mut example = Example {
            _process: Killed(child),
            lines,
            addr: String::new(),
        };
        let line = example.line_containing("ws://");
        let (_, url) = line.split_once("ws://").expect("a ws:// URL");
        example.addr = url.split('/').next().expect("host:port").to_owned();
        example
    }

    /// `ws://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The next line it prints that contains `needle` (waiting at most [`DEADLINE`]); the
    /// lines before it are passed over.
    pub fn line_containing(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?} from the example: {e}"),
            }
        }
    }

    /// A plain HTTP GET of `path`: the status and the body.
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        let response = raw_response(&self.addr, &request);
        let status = response.get(9..12).and_then(|s| s.parse().ok());
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body);
        (
            status.expect("a status line"),
            body.unwrap_or_default().to_owned(),
        )
    }
}

/// Sends each line `reader` gives to `lines`, from a thread of its own.
fn forward_lines(reader: impl Read + Send + 'static, lines: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
}

/// What the server at `addr` answers to `request`, until it closes the connection.
pub fn raw_response(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("a response, then the end");
    response
}

/// Starts example `name` with `args`, its output piped.
fn spawn(name: &str, args: &[&str]) -> std::process::Child {
    Command::new(binary(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
}

/// Runs example `name` with `args` to its end (at most [`DEADLINE`]): its exit status, its
/// standard output and its standard error. Killed if it takes longer. (Only the `client`
/// example ends by itself, and it needs the runtime.)
#[cfg(feature = "runtime")]
pub fn run_to_end(name: &str, args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = spawn(name, args);
    let stdout = read_to_end(child.stdout.take().expect("stdout is piped"));
    let stderr = read_to_end(child.stderr.take().expect("stderr is piped"));
    let mut child = Killed(child);
    let deadline = Instant::now() + DEADLINE;
    let collect = |output: mpsc::Receiver<String>| {
        let left = deadline.saturating_duration_since(Instant::now());
        output
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{name} {args:?} did not end within {DEADLINE:?}"))
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    let status = child.0.wait().expect("its exit status");
    (status, stdout, stderr)
}

/// Everything `reader` gives until its end, read on a thread of its own.
#[cfg(feature = "runtime")]
fn read_to_end(mut reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = reader.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

/// A child process, killed when dropped (if it is still running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
