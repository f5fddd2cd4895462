//! The applications of the `fullduplex` command: policy only, on top of the library.

pub mod addr;
pub mod autobahn;
pub mod autobahn_multi;
pub mod autobahn_tokio;
pub mod bench;
pub mod broadcast;
pub mod chat;
pub mod cli;
pub mod client;
pub mod echo;
pub mod event_loop;
pub mod tls;
pub mod tokio_echo;
