//! The `fullduplex` command: the chat server by default, and the echo server, client,
//! Autobahn client and load generator as subcommands.
//!
//! The applications are the binary's own (feature `cli`, on by default): the library's
//! public API is the protocol core and the runtimes, and its users pay for none of this.

mod apps;

fn main() -> std::process::ExitCode {
    apps::cli::main()
}
