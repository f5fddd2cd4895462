//! Helpers for the scale-out tests: a real `redis-server` on a free loopback port, chat nodes
//! run as the real binary, and bounded waits.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::chat::support::{http_get, Client};

/// Longest wait for a node or Redis to come up, or for a state to be reached.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Heartbeat interval and node timeout given to the nodes (short, to keep tests fast).
pub const HEARTBEAT_MS: u64 = 100;
/// A node silent this long is taken for dead.
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// Where `redis-server` is, or `None` (and a skip message) if it is absent and not required.
pub fn redis_server() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        if std::env::var("FULLDUPLEX_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("redis-server is not installed and FULLDUPLEX_REQUIRE_REDIS=1");
        }
        eprintln!(
            "SKIPPED: redis-server is not installed; scripts/redis-tests.sh installs it and \
             runs these tests for real"
        );
    }
    found
}

/// A `redis-server` for one test, killed when dropped.
pub struct Redis {
    binary: PathBuf,
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Where it listens and is pinged (127.0.0.1 unless started in a namespace).
    host: IpAddr,
    /// `ip netns exec NAME`, when it runs in a network namespace.
    netns: Option<String>,
}

impl Redis {
    /// Starts one on a free loopback port and waits until it answers.
    pub fn start(binary: PathBuf) -> Self {
        Self::start_at(binary, None, IpAddr::from([127, 0, 0, 1]), free_port())
    }

    /// Starts one on `port`, in network namespace `netns` if any (then listening on every
    /// address there), and waits until it answers on `host`.
    pub fn start_at(binary: PathBuf, netns: Option<&str>, host: IpAddr, port: u16) -> Self {
        let mut redis = Self {
            binary,
            child: None,
            port,
            host,
            netns: netns.map(str::to_owned),
        };
        redis.restart();
        redis
    }

    /// `redis://HOST:PORT`, HOST being where it was started (127.0.0.1 by default).
    pub fn url(&self) -> String {
        self.url_at(self.host)
    }

    /// `redis://HOST:PORT`: for a namespace's Redis, reached by another of its addresses.
    pub fn url_at(&self, host: IpAddr) -> String {
        format!("redis://{host}:{}", self.port)
    }

    /// Kills it (SIGKILL): every connection to it breaks.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = match &self.netns {
            Some(name) => {
                let mut ip = Command::new("ip");
                ip.args(["netns", "exec", name]).arg(&self.binary);
                ip.args(["--bind", "*", "--protected-mode", "no"]);
                ip
            }
            None => {
                let mut redis = Command::new(&self.binary);
                redis.args(["--bind", "127.0.0.1"]);
                redis
            }
        };
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while !answers_ping(self.host, self.port) {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Redis {
    /// Publishes `payload` on `channel` as a node would (RESP over a fresh connection); the
    /// number of subscribers that got it.
    pub fn publish(&self, channel: &str, payload: &str) -> u64 {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect((self.host, self.port)).expect("redis answers");
        tcp.set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        let mut command = b"*3\r\n$7\r\nPUBLISH\r\n".to_vec();
        for arg in [channel, payload] {
            command.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        tcp.write_all(&command).expect("redis takes the command");
        let mut reply = String::new();
        BufReader::new(tcp)
            .read_line(&mut reply)
            .expect("redis replies");
        let count = reply.trim_end().strip_prefix(':');
        count
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("PUBLISH: {reply:?}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn answers_ping(host: IpAddr, port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect((host, port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    tcp.write_all(b"PING\r\n").is_ok()
        && tcp.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds a loopback port");
    listener.local_addr().expect("has an address").port()
}

/// A chat node: the real binary, killed (SIGKILL) when dropped.
pub struct Node {
    child: Child,
    /// Where it serves.
    pub addr: SocketAddr,
}

impl Node {
    /// Starts `fullduplex chat --redis URL --node-id ID` with short timings and waits until
    /// it is connected to Redis.
    pub fn start(redis_url: &str, id: &str) -> Self {
        Self::start_with(redis_url, id, NODE_TIMEOUT_MS)
    }

    /// Like [`start`](Self::start) with this node timeout.
    pub fn start_with(redis_url: &str, id: &str, node_timeout_ms: u64) -> Self {
        Self::start_args(redis_url, id, node_timeout_ms, 200)
    }

    /// Like [`start_with`](Self::start_with) with this longest reconnection delay.
    pub fn start_args(redis_url: &str, id: &str, node_timeout_ms: u64, backoff_ms: u64) -> Self {
        let node = Self::spawn(&[
            "--addr",
            "127.0.0.1:0",
            "--redis",
            redis_url,
            "--node-id",
            id,
            "--redis-heartbeat-ms",
            &HEARTBEAT_MS.to_string(),
            "--redis-node-timeout-ms",
            &node_timeout_ms.to_string(),
            "--redis-backoff-max-ms",
            &backoff_ms.to_string(),
        ]);
        node.wait_health("ok");
        node
    }

    /// Starts `fullduplex chat --threads 2 --rate-messages 1000 ARGS` and waits until it
    /// prints its address.
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fullduplex"))
            .args(["chat", "--threads", "2", "--rate-messages", "1000"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(node_log())
            .spawn()
            .expect("the chat starts");
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads every line, to the end: a node whose stdout is closed fails its next print.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = listening_on(&line) {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(PATIENCE)
            .expect("the chat prints its address");
        Self { child, addr }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL: no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop (SIGTERM), as an operator would, and waits until it has.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }

    /// `/healthz`: its status and body.
    pub fn health(&self) -> (u16, String) {
        let (status, _, body) = http_get(self.addr, "/healthz", "");
        (status, body.trim().to_owned())
    }

    /// Waits until `/healthz` starts with `prefix`.
    pub fn wait_health(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (_, body) = self.health();
            if body.starts_with(prefix) {
                return body;
            }
            assert!(Instant::now() < deadline, "healthz stayed {body:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One sample of `/metrics` (0 if absent).
    pub fn metric(&self, name: &str) -> u64 {
        let (_, _, body) = http_get(self.addr, "/metrics", "");
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    /// Waits until a metric reaches `at_least`.
    pub fn wait_metric(&self, name: &str, at_least: u64) {
        let deadline = Instant::now() + PATIENCE;
        while self.metric(name) < at_least {
            assert!(Instant::now() < deadline, "{name} stayed below {at_least}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn listening_on(line: &str) -> Option<SocketAddr> {
    let rest = line.split_once("open http://")?.1;
    rest.split('/').next()?.parse().ok()
}

/// The nodes' logs go to the test's stderr with `FULLDUPLEX_NODE_LOG=1`.
fn node_log() -> Stdio {
    match std::env::var("FULLDUPLEX_NODE_LOG").as_deref() {
        Ok("1") => Stdio::inherit(),
        _ => Stdio::null(),
    }
}

/// Reads until a message of type `kind` that `matches`, skipping others; panics after
/// [`PATIENCE`].
pub fn wait_for(client: &mut Client, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    while let Some(value) = client.json_before(deadline) {
        if value["type"] == kind && matches(&value) {
            return value;
        }
    }
    panic!("no {kind} message as expected within {PATIENCE:?}");
}

/// Whether a message's user (or sender) has this nickname.
pub fn by(nick: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["user"]["nick"] == nick || v["from"]["nick"] == nick
}
