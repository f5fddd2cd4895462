//! Network namespaces and veth pairs made with `ip`, for faults the kernel can express: a
//! link cut with nothing sent (no FIN, no RST), then restored. Every namespace and link is
//! removed when its guard drops, even when the test panics.
//!
//! Names carry the test process's id and a counter, addresses are private
//! (`10.(200+n).(pid % 250).0/24`), so parallel tests and runs never collide.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::Instant;

use super::PATIENCE;

/// Whether the network tests can run here: root and `ip`. When they cannot, prints why and
/// returns `false`, unless `FULLDUPLEX_REQUIRE_NETNS=1` (as `scripts/test.sh faults` sets),
/// which makes it a failure.
pub fn available() -> bool {
    let missing = if unsafe { libc::geteuid() } != 0 {
        Some("not running as root")
    } else if !Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some("`ip` (iproute2) is not installed")
    } else {
        None
    };
    let Some(why) = missing else { return true };
    if std::env::var("FULLDUPLEX_REQUIRE_NETNS").as_deref() == Ok("1") {
        panic!("network namespaces are needed ({why}) and FULLDUPLEX_REQUIRE_NETNS=1");
    }
    eprintln!("SKIPPED: {why}; scripts/test.sh faults runs these tests as root");
    false
}

/// Runs `ip ARGS`, panicking with its error output if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("runs ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A number unique within this process, for names and subnets.
fn next_serial() -> u8 {
    static SERIAL: AtomicU8 = AtomicU8::new(0);
    let n = SERIAL.fetch_add(1, Relaxed);
    assert!(n < 50, "too many namespaces in one test process");
    n
}

/// A network namespace, deleted (with its end of every veth) when dropped.
pub struct Netns {
    /// Its name, as `ip netns` knows it.
    pub name: String,
}

impl Netns {
    /// Makes `fdx-TAG-PID-N` with its loopback up.
    pub fn new(tag: &str) -> Self {
        let name = format!("fdx-{tag}-{}-{}", std::process::id(), next_serial());
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Runs `work` on a thread that entered this namespace: the sockets it opens belong to
    /// the namespace for their whole life, wherever they are used afterwards.
    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("opens the namespace");
            // SAFETY: a valid descriptor of a network namespace; only this thread moves.
            let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
            work()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Makes the namespace's kernel forget every TCP connection (`ss -K`), as a host that
    /// rebooted would: the RSTs it sends for them are lost on a cut link, so the peers there
    /// still believe in their half of each connection.
    pub fn forget_connections(&self) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "ss", "-K", "-t"])
            .output()
            .expect("runs ss");
        assert!(
            out.status.success(),
            "ss -K: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair from the root namespace into a [`Netns`]: `root_addr` on this side,
/// `inside_addr` on the other, one /24 of their own. Deleted when dropped.
pub struct Veth {
    root_dev: String,
    inside_dev: String,
    ns: String,
    /// This side's address (the root namespace's).
    pub root_addr: Ipv4Addr,
    /// The namespace's address.
    pub inside_addr: Ipv4Addr,
}

impl Veth {
    /// Makes the pair, addresses it and brings both ends up.
    pub fn new(ns: &Netns) -> Self {
        let n = next_serial();
        let (pid, subnet) = (std::process::id(), 200 + n);
        let third = (pid % 250) as u8;
        let veth = Self {
            root_dev: format!("fdx{pid}r{n}"),
            inside_dev: format!("fdx{pid}i{n}"),
            ns: ns.name.clone(),
            root_addr: Ipv4Addr::new(10, subnet, third, 1),
            inside_addr: Ipv4Addr::new(10, subnet, third, 2),
        };
        ip(&[
            "link",
            "add",
            &veth.root_dev,
            "type",
            "veth",
            "peer",
            "name",
            &veth.inside_dev,
        ]);
        ip(&["link", "set", &veth.inside_dev, "netns", &veth.ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/24", veth.root_addr),
            "dev",
            &veth.root_dev,
        ]);
        let inside = format!("{}/24", veth.inside_addr);
        ip(&[
            "-n",
            &veth.ns,
            "addr",
            "add",
            &inside,
            "dev",
            &veth.inside_dev,
        ]);
        ip(&["link", "set", &veth.root_dev, "up"]);
        veth.restore();
        veth
    }

    /// Cuts the link: the namespace's end goes down. Nothing is sent to anyone (no FIN, no
    /// RST): packets either way are dropped, as on a pulled cable.
    pub fn cut(&self) {
        ip(&["-n", &self.ns, "link", "set", &self.inside_dev, "down"]);
    }

    /// Brings the namespace's end up again and waits until both ends have carrier.
    pub fn restore(&self) {
        ip(&["-n", &self.ns, "link", "set", &self.inside_dev, "up"]);
        let deadline = Instant::now() + PATIENCE;
        while !self.has_carrier() {
            assert!(
                Instant::now() < deadline,
                "{} has no carrier",
                self.root_dev
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn has_carrier(&self) -> bool {
        let path = format!("/sys/class/net/{}/operstate", self.root_dev);
        std::fs::read_to_string(path).is_ok_and(|s| s.trim() == "up")
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.root_dev])
            .output();
    }
}
