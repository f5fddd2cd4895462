//! `--io-uring` on `echo`, `broadcast` and `chat`, run as a process: the event loop the
//! startup line names, the refusal where io_uring is forbidden (a seccomp filter on the child,
//! `common/seccomp.rs`) and the fallback to epoll when asked, the modes it takes and its
//! conflict with `--runtime tokio`.

use crate::cli::{echoes, fullduplex, listening_addr, run, run_command, Running};
use crate::seccomp;

#[test]
fn echo_broadcast_and_chat_run_on_io_uring_when_asked() {
    for command in ["echo", "broadcast", "chat"] {
        let server = Running::start(&[command, "--addr", "127.0.0.1:0", "--io-uring"]);
        let line = server.line_containing("listening on");
        let expected = format!("fullduplex {command} (io_uring) listening on ws://127.0.0.1:");
        assert!(line.starts_with(&expected), "{line}");
        if command == "echo" {
            echoes(listening_addr(&line));
        }
    }
}

#[test]
fn io_uring_forbidden_by_seccomp_is_refused_in_one_line_saying_why() {
    let mut echo = fullduplex(&["echo", "--addr", "127.0.0.1:0", "--io-uring"]);
    let output = run_command(seccomp::forbid_io_uring_in(&mut echo, libc::EPERM), b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("fullduplex: --io-uring: "), "{stderr}");
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("not permitted") || lower.contains("forbidden"),
        "{stderr}"
    );
    assert!(stderr.contains("--io-uring=fallback"), "{stderr}");
    assert!(output.stdout.is_empty(), "{:?}", output.stdout);
}

#[test]
fn io_uring_fallback_where_io_uring_is_forbidden_serves_on_epoll_and_says_why() {
    let mut echo = fullduplex(&["echo", "--addr", "127.0.0.1:0", "--io-uring=fallback"]);
    let echo = Running::spawn(seccomp::forbid_io_uring_in(&mut echo, libc::EPERM));
    let why = echo.line_containing("instead");
    assert!(why.contains("io_uring"), "{why}");
    let line = echo.line_containing("listening on");
    assert!(
        line.starts_with("fullduplex echo (mio) listening on ws://127.0.0.1:"),
        "{line}"
    );
    echoes(listening_addr(&line));
}

#[test]
fn io_uring_with_the_tokio_runtime_is_refused_saying_what_to_do() {
    for command in ["echo", "broadcast"] {
        let output = run(&[command, "--runtime", "tokio", "--io-uring"], b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("leave out --runtime tokio (or --io-uring)"),
            "{stderr}"
        );
    }
}

#[test]
fn an_unknown_io_uring_mode_is_refused_with_the_choices() {
    let output = run(&["echo", "--io-uring=maybe"], b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[possible values: require, fallback]"),
        "{stderr}"
    );
}
