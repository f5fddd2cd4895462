//! The `fullduplex chat` binary as a child process of a test, optionally with a small
//! descriptor table, and what /proc says about it: CPU time, open descriptors, and the
//! kernel's count of listen-queue overflows.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the chat may take to print its address.
const START: Duration = Duration::from_secs(30);

/// A `fullduplex chat` on a free loopback port, killed when dropped.
pub struct ChatProcess {
    child: Child,
    /// Where it serves.
    pub addr: SocketAddr,
    /// Lines it wrote to standard error saying an accept failed.
    accept_failures: Arc<AtomicUsize>,
}

impl ChatProcess {
    /// Starts it with two workers on `event_loop` ("mio" or "io-uring"), its descriptor table
    /// limited to `max_files` when given (`RLIMIT_NOFILE`, set in the child before `exec`).
    pub fn start(event_loop: &str, max_files: Option<u64>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fullduplex"));
        command
            .args(["chat", "--addr", "127.0.0.1:0", "--threads", "2", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if event_loop == "io-uring" {
            command.arg("--io-uring");
        }
        if let Some(limit) = max_files {
            // SAFETY: setrlimit is async-signal-safe, as code between fork and exec must be.
            unsafe { command.pre_exec(move || limit_files(limit)) };
        }
        let mut child = command.spawn().expect("the chat starts");
        let stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
        let stderr = BufReader::new(child.stderr.take().expect("a piped stderr"));
        let (tx, rx) = std::sync::mpsc::channel();
        // Both streams are read to their end: a chat whose pipe is full would block printing.
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(addr) = address_in(&line) {
                    let _ = tx.send(addr);
                }
            }
        });
        let accept_failures = Arc::new(AtomicUsize::new(0));
        let count = accept_failures.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("accept failed") {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let addr = rx.recv_timeout(START).expect("the chat prints its address");
        Self {
            child,
            addr,
            accept_failures,
        }
    }

    /// Its WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// CPU time it has used (user and system, all threads).
    pub fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the chat is running");
        // The fields after the command's name, which ends with the last ')': utime is the
        // 14th field of the line, stime the 15th.
        let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().expect("a number of ticks"))
            .collect();
        // SAFETY: sysconf only reads a system constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Duration::from_secs_f64(fields.iter().sum::<u64>() as f64 / ticks)
    }

    /// Descriptors it has open.
    pub fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("the chat is running")
            .count()
    }

    /// Lines so far saying an accept failed.
    pub fn accept_failures(&self) -> usize {
        self.accept_failures.load(Ordering::Relaxed)
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the chat's "open http://ADDR/" line.
fn address_in(line: &str) -> Option<SocketAddr> {
    let at = line.find("open http://")?;
    let url = line[at + "open http://".len()..]
        .split_whitespace()
        .next()?;
    url.trim_end_matches('/').parse().ok()
}

/// Sets this process's descriptor limit, soft and hard.
fn limit_files(limit: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: limit as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct passed to it.
    match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// The kernel's counts of connections dropped at a full listen queue, in this network
/// namespace (every process's listeners): `TcpExt: ListenOverflows` and `ListenDrops`.
pub fn listen_overflows() -> (u64, u64) {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return (0, 0);
    };
    let field = |wanted: &str| {
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(name, _)| *name == wanted)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0)
    };
    (field("ListenOverflows"), field("ListenDrops"))
}
