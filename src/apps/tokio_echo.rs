//! `fullduplex echo --runtime tokio`: the echo testee on the tokio adapter, one current-thread
//! runtime and a task per connection, so that Autobahn, the hostile tests and the benchmarks
//! run on the adapter with the same commands as on the mio runtime.

use std::sync::Arc;

use fullduplex::protocol::{Event, Sender};
use fullduplex::tokio::{accept, Error, WebSocketStream};
use fullduplex::Config;
use tokio::net::{TcpListener, TcpStream};

use super::cli::{bind_error, EchoArgs};

/// Serves the echo on a current-thread tokio runtime until the process is stopped.
pub fn run(args: &EchoArgs, config: Config) -> Result<(), String> {
    if args.listen.is_tls() {
        return Err("--runtime tokio serves ws:// only: leave out the TLS options".into());
    }
    if args.listen.threads > 1 {
        return Err("--runtime tokio runs on one thread: leave out --threads".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(serve(args, Arc::new(config)))
}

async fn serve(args: &EchoArgs, config: Arc<Config>) -> Result<(), String> {
    let addr = &args.listen.addr;
    let listener = TcpListener::bind(addr.socket)
        .await
        .map_err(|e| bind_error(addr, &e))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let every = match local.ip().is_unspecified() {
        true => " (every interface)",
        false => "",
    };
    println!("fullduplex echo (tokio) listening on ws://{local}{every}");
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("fullduplex: accept failed ({e})");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let config = config.clone();
        tokio::spawn(async move {
            if let Ok(ws) = accept(tcp, config).await {
                let _ = echo(ws).await;
            }
        });
    }
}

/// Sends every data message back as it came (a fragment as a fragment), from the receive
/// buffer into the output queue without another copy. What is queued is written when no more
/// input is ready, so a burst of messages leaves in few writes.
async fn echo(mut ws: WebSocketStream<TcpStream>) -> Result<(), Error> {
    let echo_back = |event: Event<'_>, tx: &mut Sender| match event {
        Event::Message(message) => tx.send(message),
        Event::Chunk(chunk) => tx.send_fragment(chunk.kind, chunk.data, chunk.last),
        Event::Ping(_) | Event::Pong(_) | Event::Closed { .. } => Ok(()),
    };
    // A send refused because the connection is closing needs nothing more: reading on ends
    // the close handshake.
    while ws.recv_with(echo_back).await?.is_some() {}
    Ok(())
}
