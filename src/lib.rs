//! A WebSocket stack written from the protocol up: [RFC 6455] (the opening handshake, frames,
//! masking, fragmentation, control frames, the close handshake, UTF-8) and [RFC 7692]
//! (permessage-deflate, every parameter) in a sans-I/O core, with a mio runtime on top. The
//! core, [`protocol`], takes received bytes in and gives events and bytes to send out; it never
//! touches a socket, a clock or a global random number generator, so any I/O model can drive
//! it, and tests and fuzzers feed it plain slices. The runtime (feature `runtime`) drives it
//! over non-blocking sockets: a multi-threaded server, a blocking client and a many-connection
//! client, with `wss://` by rustls (feature `tls`).
//!
//! # Layers
//!
//! Each layer is a Cargo feature that adds only its own dependencies, and the code depends one
//! way, down: the runtime on the core, the core on the leaves ([`config`], [`error`],
//! [`OsRandom`]), never the reverse (`tests/layers.rs` checks the imports).
//!
//! | Feature | Modules | Direct dependencies it adds |
//! | --- | --- | --- |
//! | none (core) | [`protocol`], [`config`], [`error`] | httparse, sha1, base64, flate2, getrandom |
//! | `runtime` | `server`, `client` | mio, socket2 |
//! | `tls` | `server::tls`, `client::tls` | rustls, rustls-native-certs |
//! | `dev-cert` | `server::tls::self_signed` | rcgen |
//! | `cli`, default | the `fullduplex` binary | clap, serde, serde_json, signal-hook, libc, redis, ring |
//!
//! # Depending on it
//!
//! One of:
//!
//! ```toml
//! # The sans-I/O core alone: your program does the I/O.
//! fullduplex = { version = "0.1", default-features = false }
//! # The core and the mio runtime: `server` and `client`.
//! fullduplex = { version = "0.1", default-features = false, features = ["runtime"] }
//! # The same with `wss://` (rustls).
//! fullduplex = { version = "0.1", default-features = false, features = ["runtime", "tls"] }
//! ```
//!
//! The default features build the `fullduplex` command (the chat, echo and broadcast servers,
//! a client, a load generator) and pull in its dependencies too; its code is the binary's, not
//! the library's, so a library turns default features off.
//!
//! # Where to go next
//!
//! - [`rfc_map`]: each section of RFC 6455 and RFC 7692, the code that implements it and the
//!   tests that check it.
//! - `docs/tour.md` (in the repository and the package): a guided tour of the code.
//! - The examples in `examples/`, run with `cargo run --example NAME`: `sans_io_echo` (the
//!   core with no socket), `echo_server`, `client` and `pubsub` (the runtime).
//! - [`protocol::Connection`]: the core's entry point, for one connection in either role.
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "runtime")]
pub mod client;
pub mod config;
pub mod error;
pub mod protocol;
mod random;
// A module with no code, for the map's own page in the docs: the crate's page stays an
// introduction, and the map (500 lines of Markdown) is one link away. Its links are written from
// the crate root (`crate::…`), so they resolve from here and would from anywhere else.
#[doc = include_str!("../docs/rfc-map.md")]
pub mod rfc_map {}
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
mod transport;

pub use config::Config;
pub use error::{HandshakeError, ProtocolError, SendError, UsageError};
pub use random::OsRandom;

#[cfg(test)]
mod tests {
    /// The RFC map, as the crate docs include it.
    const RFC_MAP: &str = include_str!("../docs/rfc-map.md");

    /// The `file::test` names in a Markdown text, in order: the code spans that name a
    /// `tests/` or `src/` file, then a function.
    fn tests_named_in(markdown: &str) -> Vec<(&str, &str)> {
        let spans = markdown.split('`').skip(1).step_by(2);
        spans
            .filter_map(|span| span.split_once(".rs::"))
            .filter(|(file, _)| file.starts_with("tests/") || file.starts_with("src/"))
            .collect()
    }

    /// Why `file.rs::test` names no `#[test]` of this crate, or `None` if it does.
    fn not_a_test(file: &str, test: &str) -> Option<String> {
        let path = format!("{}/{file}.rs", env!("CARGO_MANIFEST_DIR"));
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => return Some(format!("{path}: {e}")),
        };
        let Some(at) = source.find(&format!("fn {test}(")) else {
            return Some(format!("{file}.rs has no fn {test}"));
        };
        let attributes: Vec<&str> = source[..at].lines().rev().take(3).collect();
        let is_test = attributes.iter().any(|line| line.trim() == "#[test]");
        (!is_test).then(|| format!("{file}.rs::{test} is not a #[test]"))
    }

    #[test]
    fn every_test_in_the_rfc_map_exists() {
        let named = tests_named_in(RFC_MAP);
        assert!(named.len() > 100, "only {} tests found", named.len());
        let wrong: Vec<String> = named
            .iter()
            .filter_map(|(file, test)| not_a_test(file, test))
            .collect();
        assert!(wrong.is_empty(), "docs/rfc-map.md: {wrong:#?}");
    }

    #[test]
    fn no_name_in_the_rfc_map_is_split_across_lines() {
        let spans = RFC_MAP.split('`').skip(1).step_by(2);
        for span in spans {
            assert!(!span.contains('\n'), "docs/rfc-map.md: `{span}` is wrapped");
        }
    }

    #[test]
    fn a_name_that_is_not_a_test_is_reported() {
        let map = "- `src/lib.rs::every_test_in_the_rfc_map_exists`\n\
                   - `src/lib.rs::tests_named_in`, `tests/handshake.rs::no_such_test`\n\
                   - `src/no_such_file.rs::a_test`, `README.md`";
        let named = tests_named_in(map);
        assert_eq!(named.len(), 4);
        let reports: Vec<_> = named.iter().map(|(f, t)| not_a_test(f, t)).collect();
        assert_eq!(reports[0], None);
        assert!(reports[1..].iter().all(Option::is_some), "{reports:?}");
    }
}
