//! Where a server listens, as the command line gives it: the forms `--addr` takes, the
//! resolution of a host name, and the addresses a browser can open when a server listens on
//! every interface.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

/// The forms `--addr` takes, with examples: the end of every message about a bad value.
const FORMS: &str = "write PORT (on 127.0.0.1), HOST:PORT or IP:PORT, \
    e.g. 8080, localhost:8080, 0.0.0.0:8080 (every interface) or [::1]:8080";

/// Where to listen: the address to bind, and how it was chosen when a host name gave several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    /// The address to bind.
    pub socket: SocketAddr,
    /// Which address was taken when a host name resolved to several, as a sentence.
    pub choice: Option<String>,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.socket.fmt(f)
    }
}

/// Parses `--addr`: a bare port (on 127.0.0.1: the default host stays loopback), an IP
/// address with a port, or a host name with a port, resolved now.
pub fn parse_listen_addr(text: &str) -> Result<ListenAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(exactly((Ipv4Addr::LOCALHOST, port).into()));
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Ok(exactly(socket));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        return Err(match digits {
            true => format!("{text} is not a port, which goes from 0 to 65535: {FORMS}"),
            false => format!("no port: {FORMS}"),
        });
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port, which goes from 0 to 65535: {FORMS}"))?;
    if host.is_empty() {
        return Err(format!("no host before :{port}: {FORMS}"));
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?} ({e}): {FORMS}"))?
        .collect();
    choose(host, &found).ok_or_else(|| format!("{host:?} resolves to no address: {FORMS}"))
}

fn exactly(socket: SocketAddr) -> ListenAddr {
    ListenAddr {
        socket,
        choice: None,
    }
}

/// The first IPv4 address `host` resolved to, else its first; with a sentence naming the
/// others when there are some.
fn choose(host: &str, found: &[SocketAddr]) -> Option<ListenAddr> {
    let mut distinct: Vec<SocketAddr> = Vec::new();
    for addr in found {
        if !distinct.contains(addr) {
            distinct.push(*addr);
        }
    }
    let socket = *distinct
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(distinct.first())?;
    let choice = (distinct.len() > 1).then(|| {
        let all: Vec<String> = distinct.iter().map(|a| a.ip().to_string()).collect();
        format!(
            "{host} is {}: listening on {socket} only (--addr names one address)",
            all.join(", ")
        )
    });
    Some(ListenAddr { socket, choice })
}

/// The hosts to put in a URL for a server bound to `addr`: the address itself, or for the
/// unspecified address (every interface) the loopback address, then this machine's address on
/// its default route when it has one.
pub fn reachable_hosts(addr: SocketAddr) -> Vec<String> {
    let ip = addr.ip();
    if !ip.is_unspecified() {
        return vec![url_host(ip)];
    }
    let loopback = match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    std::iter::once(loopback)
        .chain(outward_address(ip))
        .map(url_host)
        .collect()
}

/// An IP address as the host of a URL: IPv6 in brackets.
fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// This machine's address on the route to the Internet, of the family of `like`. Connecting a
/// UDP socket sends nothing: it only picks the route, and with it the local address.
fn outward_address(like: IpAddr) -> Option<IpAddr> {
    // Documentation addresses (RFC 5737, RFC 3849): routed like any other, never answered.
    let (any, probe) = match like {
        IpAddr::V4(_) => ("0.0.0.0:0", "192.0.2.1:9"),
        IpAddr::V6(_) => ("[::]:0", "[2001:db8::1]:9"),
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(probe).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(text: &str) -> SocketAddr {
        parse_listen_addr(text).unwrap().socket
    }

    #[test]
    fn a_bare_port_is_on_loopback_and_addresses_parse_as_given() {
        assert_eq!(socket("8081"), "127.0.0.1:8081".parse().unwrap());
        assert_eq!(socket(" 0 "), "127.0.0.1:0".parse().unwrap());
        assert_eq!(socket("0.0.0.0:80"), "0.0.0.0:80".parse().unwrap());
        assert_eq!(socket("[::1]:9001"), "[::1]:9001".parse().unwrap());
        assert!(socket("localhost:8081").ip().is_loopback());
    }

    #[test]
    fn a_bad_value_says_what_is_wrong_and_the_forms_expected() {
        for (bad, why) in [
            ("nonsense", "no port"),
            ("", "no port"),
            ("99999", "99999 is not a port"),
            ("localhost:http", "\"http\" is not a port"),
            ("localhost:70000", "\"70000\" is not a port"),
            (":8080", "no host before :8080"),
            (
                "no-such-host.invalid:8080",
                "cannot resolve \"no-such-host.invalid\"",
            ),
        ] {
            let message = parse_listen_addr(bad).unwrap_err();
            assert!(message.starts_with(why), "{bad}: {message}");
            assert!(message.ends_with(FORMS), "{bad}: {message}");
        }
    }

    #[test]
    fn of_several_addresses_the_first_ipv4_one_is_chosen_and_said() {
        let v6: SocketAddr = "[::1]:8081".parse().unwrap();
        let v4: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let chosen = choose("localhost", &[v6, v4, v6]).unwrap();
        assert_eq!(chosen.socket, v4);
        assert_eq!(
            chosen.choice.as_deref(),
            Some("localhost is ::1, 127.0.0.1: listening on 127.0.0.1:8081 only (--addr names one address)")
        );
        assert_eq!(choose("ip6-localhost", &[v6, v6]).unwrap(), exactly(v6));
        assert_eq!(choose("nowhere", &[]), None);
    }

    #[test]
    fn every_interface_is_reached_on_loopback_first() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let hosts = reachable_hosts(any);
        assert_eq!(hosts[0], "127.0.0.1");
        assert!(hosts.len() <= 2 && !hosts[1..].contains(&"0.0.0.0".to_string()));
        assert_eq!(reachable_hosts("[::]:1".parse().unwrap())[0], "[::1]");
        assert_eq!(reachable_hosts("10.1.2.3:1".parse().unwrap()), ["10.1.2.3"]);
    }
}
