//! A WebSocket stack written from the protocol up: [RFC 6455] (the opening handshake, frames,
//! masking, fragmentation, control frames, the close handshake, UTF-8) and [RFC 7692]
//! (permessage-deflate, every parameter) in a sans-I/O core, with a mio runtime on top. The
//! core, [`protocol`], takes received bytes in and gives events and bytes to send out; it never
//! touches a socket, a clock or a global random number generator, so any I/O model can drive
//! it, and tests and fuzzers feed it plain slices. The runtime (feature `runtime`) drives it
//! over non-blocking sockets: a multi-threaded server, a blocking client and a many-connection
//! client, with `wss://` by rustls (feature `tls`). The tokio adapter (feature `tokio`,
//! module `tokio`) drives the same core under async Rust, for tokio programs and axum or hyper
//! servers, without the mio runtime.
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
//! | `tokio` (no `runtime` needed) | `tokio`, `client` (options, errors) | tokio, futures-core, futures-sink |
//! | `tokio-tls` | `wss://` for `tokio::connect` | tokio-rustls, rustls, rustls-native-certs |
//! | `io-uring` (with `runtime`; Linux) | none: `server::EventLoop::IoUring` and `MultiClient::with_event_loop` work | io-uring, libc |
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
//! # The tokio adapter, for tokio programs and axum or hyper servers (no mio runtime).
//! fullduplex = { version = "0.1", default-features = false, features = ["tokio"] }
//! ```
//!
//! The default features build the `fullduplex` command (the chat, echo and broadcast servers,
//! a client, a load generator) and pull in its dependencies too; its code is the binary's, not
//! the library's, so a library turns default features off.
//!
//! # Where to go next
//!
//! To learn RFC 6455 from the code, in this order:
//!
//! - `examples/sans_io_echo.rs`: the core over blocking sockets in one page
//!   (`cargo run --example sans_io_echo`); the other examples, `echo_server`, `client` and
//!   `pubsub`, use the runtime.
//! - `docs/tour.md` (in the repository and the package): a guided tour of the code.
//! - [`rfc_map`]: each section of RFC 6455 and RFC 7692, the code that implements it and the
//!   tests that check it.
//! - [`protocol::Connection`]: the core's entry point, for one connection in either role.
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(any(feature = "runtime", feature = "tokio"))]
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
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "runtime")]
mod transport;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;

pub use config::Config;
pub use error::{HandshakeError, ProtocolError, SendError, UsageError};
pub use random::OsRandom;

#[cfg(test)]
mod tests {
    /// The RFC map, as the crate docs include it.
    const RFC_MAP: &str = include_str!("../docs/rfc-map.md");

    /// The tests named in a Markdown list, in order, as (file, test): a list item whose first
    /// code span is a file of `tests/` or `src/` names the tests in the code spans after it,
    /// on its line and on the items nested under it.
    fn tests_named_in(markdown: &str) -> Vec<(&str, &str)> {
        let mut named = Vec::new();
        // The file whose tests are listed, and the indentation of its item.
        let mut file: Option<(&str, usize)> = None;
        for line in markdown.lines() {
            let item = line.trim_start();
            let indent = line.len() - item.len();
            if !item.starts_with("- ") || file.is_some_and(|(_, at)| indent <= at) {
                file = None;
            }
            let mut spans = line.split('`').skip(1).step_by(2).peekable();
            if let Some(path) = spans.next_if(|span| item.starts_with("- `") && is_source(span)) {
                file = Some((path, indent));
            }
            if let Some((path, _)) = file {
                named.extend(spans.map(|test| (path, test)));
            }
        }
        named
    }

    /// Whether a code span names a source file of the crate's tests or code.
    fn is_source(span: &str) -> bool {
        (span.starts_with("tests/") || span.starts_with("src/")) && span.ends_with(".rs")
    }

    /// Why `test` in `file` names no `#[test]` of this crate, or `None` if it does.
    fn not_a_test(file: &str, test: &str) -> Option<String> {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => return Some(format!("{path}: {e}")),
        };
        let Some(at) = source.find(&format!("fn {test}(")) else {
            return Some(format!("{file} has no fn {test}"));
        };
        let attributes: Vec<&str> = source[..at].lines().rev().take(3).collect();
        let is_test = attributes.iter().any(|line| line.trim() == "#[test]");
        (!is_test).then(|| format!("{file}: {test} is not a #[test]"))
    }

    #[test]
    fn every_test_in_the_rfc_map_exists() {
        let named = tests_named_in(RFC_MAP);
        assert!(named.len() > 100, "only {} tests found", named.len());
        // A `file.rs::test` span would be skipped: tests go under their file.
        let spans = RFC_MAP.split('`').skip(1).step_by(2);
        let joined: Vec<&str> = spans.filter(|span| span.contains(".rs::")).collect();
        assert!(joined.is_empty(), "docs/rfc-map.md: {joined:?}");
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
        let map = "Prose names `src/lib.rs` and `tests_named_in`: no test.\n\
                   - Code: `tests_named_in`\n\
                   - Tests:\n  \
                     - `src/lib.rs`:\n    \
                       - `every_test_in_the_rfc_map_exists`\n    \
                       - `tests_named_in`\n  \
                     - `tests/handshake.rs`: `no_such_test`\n  \
                     - `src/no_such_file.rs`: `a_test`\n\
                   - `README.md`: `not_a_source_file`";
        let named = tests_named_in(map);
        let files: Vec<&str> = named.iter().map(|(file, _)| *file).collect();
        assert_eq!(
            files,
            [
                "src/lib.rs",
                "src/lib.rs",
                "tests/handshake.rs",
                "src/no_such_file.rs"
            ]
        );
        let reports: Vec<_> = named.iter().map(|(f, t)| not_a_test(f, t)).collect();
        assert_eq!(reports[0], None);
        assert!(reports[1..].iter().all(Option::is_some), "{reports:?}");
    }
}
