//! The `fullduplex` command line, run as a process: the forms `--addr` takes, the bound on
//! `--threads`, the chat's banner when it listens on every interface, and the usage line.
//! Every wait is bounded; a server the test started is killed when the test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::chat::support::http_get;
use fullduplex::protocol::OwnedEvent;

/// The longest a run of the binary (a bench run included), or a wait for one of its lines,
/// may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A `fullduplex` server started by a test, killed when dropped.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `fullduplex ARGS`, its stdout and stderr read line by line.
    pub fn start(args: &[&str]) -> Running {
        Running::spawn(&mut fullduplex(args))
    }

    /// Starts `command` (a [`fullduplex`] command), its stdout and stderr read line by line.
    pub fn spawn(command: &mut Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        forward_lines(stderr, tx.clone());
        forward_lines(BufReader::new(child.stdout.take().expect("piped")), tx);
        Running { child, lines }
    }

    /// The first line printed that contains `text`; fails the test after [`DEADLINE`].
    pub fn line_containing(&self, text: &str) -> String {
        let until = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} in {seen:#?}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line `from` reads to `to`, on a thread of its own.
fn forward_lines(from: impl BufRead + Send + 'static, to: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in from.lines().map_while(Result::ok) {
            if to.send(line).is_err() {
                return;
            }
        }
    });
}

/// The command `fullduplex ARGS`.
pub fn fullduplex(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fullduplex"));
    command.args(args);
    command
}

/// Runs `fullduplex ARGS` to its end with `input` on stdin; kills it and fails the test if it
/// outlives [`DEADLINE`].
pub fn run(args: &[&str], input: &[u8]) -> Output {
    run_command(&mut fullduplex(args), input)
}

/// [`run`] for a [`fullduplex`] command.
pub fn run_command(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    std::thread::spawn(move || stdin.write_all(&input));
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let err = std::thread::spawn(move || read_all(stderr.as_mut()));
        let out = read_all(stdout.as_mut());
        let _ = tx.send((out, err.join().expect("the stderr reader")));
    });
    let Ok((stdout, stderr)) = rx.recv_timeout(DEADLINE) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} ran longer than {DEADLINE:?}");
    };
    let status = child.wait().expect("the binary's exit status");
    Output {
        status,
        stdout,
        stderr,
    }
}

fn read_all(pipe: Option<&mut impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        pipe.read_to_end(&mut bytes).expect("the pipe reads");
    }
    bytes
}

/// A loopback port that was free a moment ago (bound on port 0, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// The address in a "listening on ws://ADDR" line.
pub fn listening_addr(line: &str) -> SocketAddr {
    let at = line.find("ws://").expect("a ws:// URL") + "ws://".len();
    let addr = line[at..].split_whitespace().next().expect("an address");
    addr.parse().expect("the URL names an address")
}

/// An echo round trip through the server at `addr`.
pub fn echoes(addr: SocketAddr) {
    let mut ws = fullduplex::client::connect(&format!("ws://{addr}/")).expect("connects");
    ws.set_read_timeout(Some(DEADLINE)).unwrap();
    ws.send_text("ping").unwrap();
    assert_eq!(ws.recv().unwrap(), OwnedEvent::Text("ping".into()));
}

#[test]
fn a_bare_port_listens_on_loopback() {
    let port = free_port();
    let echo = Running::start(&["echo", "--addr", &port.to_string(), "--threads", "1"]);
    let line = echo.line_containing("listening on");
    assert_eq!(
        line,
        format!("fullduplex echo (mio) listening on ws://127.0.0.1:{port}")
    );
    echoes(listening_addr(&line));
}

#[test]
fn a_host_name_is_resolved() {
    let port = free_port();
    let addr = format!("localhost:{port}");
    let echo = Running::start(&["echo", "--addr", &addr, "--threads", "1"]);
    let listening = listening_addr(&echo.line_containing("listening on"));
    assert!(listening.ip().is_loopback(), "{listening}");
    assert_eq!(listening.port(), port);
    echoes(listening);
}

#[test]
fn a_bad_address_is_refused_with_the_forms_expected() {
    let forms = "write PORT (on 127.0.0.1), HOST:PORT or IP:PORT, \
                 e.g. 8080, localhost:8080, 0.0.0.0:8080 (every interface) or [::1]:8080";
    let not_a_port = "is not a port, which goes from 0 to 65535";
    for (args, why) in [
        (["echo", "--addr", "nonsense"], "no port".to_owned()),
        (
            ["chat", "--addr", "localhost:http"],
            format!("\"http\" {not_a_port}"),
        ),
        (
            ["broadcast", "--addr", "70000"],
            format!("70000 {not_a_port}"),
        ),
    ] {
        let output = run(&args, b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        let expected = format!("for '--addr <ADDR>': {why}: {forms}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
}

#[test]
fn too_many_threads_are_refused_with_the_bound() {
    let output = run(&["echo", "--threads", "100000"], b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("for '--threads <N>': at most 256 worker threads"),
        "{stderr}"
    );
    assert!(stderr.contains("0 means one per core"), "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

#[test]
fn a_chat_on_every_interface_tells_to_open_it_on_loopback() {
    let port = free_port();
    let addr = format!("0.0.0.0:{port}");
    let chat = Running::start(&["chat", "--addr", &addr, "--quiet", "--threads", "1"]);
    let listening = chat.line_containing("listening on");
    assert!(listening.ends_with(&format!("ws://{addr} (every interface)")));
    let open = chat.line_containing("open http");
    let expected = format!("fullduplex chat: open http://127.0.0.1:{port}/ in a browser");
    assert!(open.starts_with(&expected), "{open}");
    assert!(!open.contains("0.0.0.0"), "{open}");
    let loopback = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(http_get(loopback, "/healthz", "").0, 200);
}

#[test]
fn a_wrong_invocation_shows_the_address_as_optional_with_its_default() {
    for (args, usage) in [
        (
            &["chat", "--tls-cert", "cert.pem"][..],
            "Usage: fullduplex chat [--addr ADDR (default 127.0.0.1:8080)] [OPTIONS]",
        ),
        (
            &[
                "echo",
                "--addr",
                "9001",
                "--tls-self-signed",
                "--tls-key",
                "k",
            ],
            "Usage: fullduplex echo [--addr ADDR (default 127.0.0.1:9001)] [OPTIONS]",
        ),
    ] {
        let output = run(args, b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(usage), "{args:?}: {stderr}");
        assert!(!stderr.contains("Usage: fullduplex chat --"), "{stderr}");
    }
}

#[test]
fn echo_runs_on_the_tokio_adapter_when_asked() {
    let echo = Running::start(&[
        "echo",
        "--addr",
        "127.0.0.1:0",
        "--runtime",
        "tokio",
        "--deflate",
    ]);
    let line = echo.line_containing("listening on");
    assert!(
        line.starts_with("fullduplex echo (tokio) listening on ws://127.0.0.1:"),
        "{line}"
    );
    echoes(listening_addr(&line));
}

#[test]
fn an_unknown_runtime_is_refused_with_the_choices() {
    for (command, choices) in [
        ("echo", "[possible values: mio, tokio]"),
        ("autobahn-client", "[possible values: mio, tokio, io-uring]"),
    ] {
        let output = run(&[command, "--runtime", "uring"], b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("invalid value 'uring' for '--runtime <RUNTIME>'"),
            "{stderr}"
        );
        assert!(stderr.contains(choices), "{stderr}");
    }
    let output = run(&["broadcast", "--runtime", "tokio"], b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broadcast runs on the mio runtime only"),
        "{stderr}"
    );
}
