//! What nodes say to each other through Redis: one versioned JSON object per pub/sub message
//! (see `docs/scale-out.md` for the channels and the format).
//!
//! ```json
//! {"v":2,"node":"web1-4242-9f3a","kind":"deliver","room":"lobby","text":"{\"type\":\"message\",…}"}
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::presence::Digest;
use crate::apps::chat::protocol::User;
use fullduplex::protocol::DataKind;

/// The format version this node writes and reads; envelopes of other versions are ignored
/// (and counted), so a rolling upgrade never delivers what a node cannot read. Version 2:
/// heartbeats carry a digest of the list, and the list travels in `snapshot`s on request.
pub const VERSION: u32 = 2;

/// One message between nodes: who sent it and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The format version ([`VERSION`]).
    pub v: u32,
    /// The sending node's id.
    pub node: String,
    /// What it says.
    #[serde(flatten)]
    pub body: Body,
}

/// What an envelope says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A room event for every member on every other node: exactly the bytes to send.
    Deliver {
        /// The room.
        room: String,
        /// The chat message, for a text WebSocket message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The bytes in standard base64, for a binary WebSocket message (a file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        binary: Option<String>,
    },
    /// A user of the sending node entered a room.
    Enter {
        /// The room.
        room: String,
        /// Who.
        user: User,
    },
    /// A user of the sending node left a room.
    Leave {
        /// The room.
        room: String,
        /// Their id.
        user_id: String,
    },
    /// The sending node is alive, and its list has this digest ([`Digest`]): a node that
    /// holds another list for it asks for a snapshot.
    Heartbeat {
        /// Users listed (once per room).
        users: usize,
        /// [`Digest::hash`], 16 hexadecimal digits (a JSON number would lose bits in some
        /// readers).
        digest: String,
    },
    /// All the sending node's users, by room: sent on connecting, to a `hello`, and to a
    /// `sync` that names the sending node.
    Snapshot {
        /// Every room with a user on the sending node.
        rooms: BTreeMap<String, Vec<User>>,
    },
    /// The node `of` is asked for a snapshot (the sender's digest of its list differs).
    Sync {
        /// The node asked.
        of: String,
    },
    /// The sending node (re)joined: every node answers with a snapshot.
    Hello,
    /// The sending node is stopping: its users are gone.
    Bye,
}

/// Why an envelope could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Longer than the limit.
    TooLarge,
    /// Not an envelope (bad JSON, missing fields, bad base64).
    Malformed,
    /// Written in a version this node does not read.
    UnknownVersion(u32),
}

impl Envelope {
    /// An envelope of this node's version.
    pub fn new(node: &str, body: Body) -> Self {
        Self {
            v: VERSION,
            node: node.to_owned(),
            body,
        }
    }

    /// A `deliver` envelope for a WebSocket message of this kind.
    pub fn deliver(node: &str, room: &str, kind: DataKind, payload: &[u8]) -> Self {
        let (text, binary) = match (kind, std::str::from_utf8(payload)) {
            (DataKind::Text, Ok(text)) => (Some(text.to_owned()), None),
            _ => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(payload)),
            ),
        };
        let room = room.to_owned();
        Self::new(node, Body::Deliver { room, text, binary })
    }

    /// A `heartbeat` envelope's body for this digest.
    pub fn heartbeat(digest: Digest) -> Body {
        Body::Heartbeat {
            users: digest.users,
            digest: format!("{:016x}", digest.hash),
        }
    }

    /// The envelope as JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an envelope of at most `max_len` bytes.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        if bytes.len() > max_len {
            return Err(DecodeError::TooLarge);
        }
        // The version first, skipping the rest without building it (a snapshot holds every
        // user of a node), then the envelope itself, straight into its types.
        #[derive(Deserialize)]
        struct Version {
            v: u64,
        }
        let Version { v } = serde_json::from_slice(bytes).map_err(|_| DecodeError::Malformed)?;
        if v != u64::from(VERSION) {
            return Err(DecodeError::UnknownVersion(
                u32::try_from(v).unwrap_or(u32::MAX),
            ));
        }
        serde_json::from_slice(bytes).map_err(|_| DecodeError::Malformed)
    }
}

impl Body {
    /// A `heartbeat`'s digest, if its `digest` is 16 hexadecimal digits.
    pub fn digest(users: usize, digest: &str) -> Option<Digest> {
        let hex = digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        let hash = u64::from_str_radix(digest, 16).ok().filter(|_| hex)?;
        Some(Digest { users, hash })
    }
}

/// The WebSocket message a `deliver` carries: its kind and bytes.
pub fn delivery(text: Option<String>, binary: Option<String>) -> Option<(DataKind, Vec<u8>)> {
    match (text, binary) {
        (Some(text), None) => Some((DataKind::Text, text.into_bytes())),
        (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .map(|bytes| (DataKind::Binary, bytes)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> User {
        User {
            id: "n1:1".into(),
            nick: "Ada".into(),
        }
    }

    #[test]
    fn round_trips_every_kind() {
        let mut rooms = BTreeMap::new();
        rooms.insert("lobby".to_owned(), vec![ada()]);
        let bodies = [
            Envelope::deliver("n1", "lobby", DataKind::Text, br#"{"type":"typing"}"#).body,
            Envelope::deliver("n1", "lobby", DataKind::Binary, &[0, 1, 255]).body,
            Body::Enter {
                room: "lobby".into(),
                user: ada(),
            },
            Body::Leave {
                room: "lobby".into(),
                user_id: "n1:1".into(),
            },
            Envelope::heartbeat(Digest::of(&rooms)),
            Body::Snapshot { rooms },
            Body::Sync { of: "n2".into() },
            Body::Hello,
            Body::Bye,
        ];
        for body in bodies {
            let envelope = Envelope::new("n1", body);
            let json = envelope.encode();
            assert_eq!(Envelope::decode(json.as_bytes(), 1 << 20), Ok(envelope));
        }
    }

    #[test]
    fn the_wire_format_is_flat_and_versioned() {
        let envelope = Envelope::deliver("n1", "lobby", DataKind::Text, b"hi");
        assert_eq!(
            envelope.encode(),
            r#"{"v":2,"node":"n1","kind":"deliver","room":"lobby","text":"hi"}"#
        );
        let digest = Digest {
            users: 3,
            hash: 0x00ab_cdef_0123_4567,
        };
        let heartbeat = Envelope::new("n1", Envelope::heartbeat(digest));
        assert_eq!(
            heartbeat.encode(),
            r#"{"v":2,"node":"n1","kind":"heartbeat","users":3,"digest":"00abcdef01234567"}"#
        );
        assert_eq!(Body::digest(3, "00abcdef01234567"), Some(digest));
        for bad in ["abcdef01234567", "+0abcdef01234567", "00abcdef0123456g", ""] {
            assert_eq!(Body::digest(3, bad), None, "{bad:?}");
        }
        let Body::Deliver { text, binary, .. } =
            Envelope::deliver("n1", "r", DataKind::Binary, &[0, 1, 255]).body
        else {
            panic!("a deliver");
        };
        assert_eq!(
            delivery(text, binary),
            Some((DataKind::Binary, vec![0, 1, 255]))
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let decode = |s: &str| Envelope::decode(s.as_bytes(), 128);
        assert_eq!(decode("nope"), Err(DecodeError::Malformed));
        assert_eq!(
            decode(r#"{"node":"n","kind":"hello"}"#),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            decode(r#"{"v":1,"node":"n","kind":"hello"}"#),
            Err(DecodeError::UnknownVersion(1))
        );
        assert_eq!(
            decode(r#"{"v":2,"node":"n","kind":"dance"}"#),
            Err(DecodeError::Malformed)
        );
        assert_eq!(
            decode(r#"{"v":2,"node":"n","kind":"hello","#),
            Err(DecodeError::Malformed)
        );
        assert_eq!(decode(&"x".repeat(129)), Err(DecodeError::TooLarge));
        assert_eq!(delivery(Some("a".into()), Some("b".into())), None);
        assert_eq!(delivery(None, Some("!!".into())), None);
    }
}
