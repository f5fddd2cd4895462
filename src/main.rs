//! The `fullduplex` command: the chat server by default, and the echo server, client,
//! Autobahn client and load generator as subcommands.

fn main() -> std::process::ExitCode {
    fullduplex::apps::cli::main()
}
