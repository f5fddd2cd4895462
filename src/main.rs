//! The `fullduplex` command.

fn main() {
    println!("fullduplex: a WebSocket stack written from the protocol up.");
    println!("The protocol core is in place; the chat server that this command will start on");
    println!("http://127.0.0.1:8080 arrives with the runtime and chat issues.");
}
