//! An echo server on the tokio adapter: one task per connection, every data message sent
//! back, permessage-deflate accepted when a client offers it.
//!
//! ```sh
//! cargo run --example tokio_echo --no-default-features --features tokio   # ws://127.0.0.1:9001
//! cargo run --example tokio_echo --no-default-features --features tokio -- 127.0.0.1:0
//! ```

use std::sync::Arc;

use fullduplex::config::DeflateConfig;
use fullduplex::tokio::{accept, WebSocketStream};
use fullduplex::Config;
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    let config = Arc::new(Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    });
    loop {
        let (tcp, peer) = listener.accept().await?;
        let config = config.clone();
        tokio::spawn(async move {
            match accept(tcp, config).await {
                Ok(ws) => {
                    if let Err(e) = echo(ws).await {
                        eprintln!("{peer}: {e}");
                    }
                }
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

/// Sends every data message back until the client closes.
async fn echo(mut ws: WebSocketStream<TcpStream>) -> Result<(), fullduplex::tokio::Error> {
    while let Some(message) = ws.recv().await? {
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
