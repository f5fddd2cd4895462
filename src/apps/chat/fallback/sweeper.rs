//! The fallback's clock: a thread that answers the polls whose hold is over, expires the
//! sessions not heard from, and tells the rooms who left (expired, or closed by the server).
//! It ticks every eighth of the shorter of the poll hold and the expiry, at most every 250 ms
//! (the bound on how late an expiry is announced), and stops when the server shuts down.

use std::time::{Duration, Instant};

use crate::apps::chat::handler::{now_millis, Chat};
use crate::apps::chat::hub::topic;
use crate::apps::chat::protocol::{ServerMessage, User};
use fullduplex::protocol::DataKind;
use fullduplex::server::ServerHandle;

/// The longest time between two sweeps.
pub const MAX_TICK: Duration = Duration::from_millis(250);

/// Starts the sweeper of `chat`'s fallback sessions.
pub fn spawn(chat: Chat, handle: ServerHandle) {
    let sessions = chat.shared().fallback.clone();
    sessions.attach(&handle);
    let options = sessions.options();
    let tick =
        (options.poll_timeout.min(options.expiry) / 8).clamp(Duration::from_millis(5), MAX_TICK);
    let spawned = std::thread::Builder::new()
        .name("fullduplex-chat-fallback".into())
        .spawn(move || {
            while !handle.is_shutting_down() {
                std::thread::sleep(tick);
                for (room, user) in sessions.sweep(Instant::now()) {
                    leave(&chat, &handle, &room, &user);
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("chat: the fallback's sweeper did not start ({e}): sessions will not expire");
    }
}

/// Takes a fallback user out of their room and tells its members, on both transports.
fn leave(chat: &Chat, handle: &ServerHandle, room: &str, user: &User) {
    if !chat.hub().leave(room, &user.id) {
        return;
    }
    let left = ServerMessage::Left {
        user,
        time: now_millis(),
    }
    .to_json();
    // As `Hub::announce` does from a callback: this server's members only.
    let _ = handle.publish(&topic(room), DataKind::Text, left.as_bytes());
    chat.shared()
        .fallback
        .deliver(room, DataKind::Text, left.as_bytes(), None);
}
