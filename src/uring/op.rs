//! What a completion is for, in its 64-bit `user_data`: the operation, the connection's slot
//! and the slot occupant's generation. A completion whose slot is empty, or holds a later
//! occupant, belongs to a connection that is gone.

/// The operations an event loop submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Multishot accept on the listening socket.
    Accept,
    /// Multishot receive on a connection.
    Recv,
    /// A send of a connection's written bytes.
    Send,
    /// Multishot poll of the mailbox's eventfd.
    Wake,
    /// A one-shot poll of a socket's readiness: a connecting client's (writable), a
    /// listener's while a worker out of descriptors accepts as mio's loop does (readable).
    Poll,
    /// The timer for the next deadline sweep.
    Timer,
    /// A cancellation (its own completion says nothing the loop needs).
    Cancel,
}

impl Op {
    const ALL: [Op; 7] = [
        Op::Accept,
        Op::Recv,
        Op::Send,
        Op::Wake,
        Op::Poll,
        Op::Timer,
        Op::Cancel,
    ];
}

/// An operation, a slot and a generation packed in a completion's `user_data`: the
/// operation in the top 8 bits, the generation's low 24 bits, the slot in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserData {
    pub(crate) op: Op,
    pub(crate) slot: u32,
    /// The generation's low 24 bits (a slot would have to be reused 16 million times while
    /// one completion waits to be mistaken).
    pub(crate) generation: u32,
}

impl UserData {
    /// `op` for the occupant `generation` of `slot`.
    pub(crate) fn new(op: Op, slot: u32, generation: u32) -> Self {
        Self {
            op,
            slot,
            generation: generation & 0xff_ffff,
        }
    }

    /// `op` for the loop itself (no connection).
    pub(crate) fn of_loop(op: Op) -> Self {
        Self::new(op, u32::MAX, 0)
    }

    /// Whether this names the occupant `generation` of a slot.
    pub(crate) fn is_generation(&self, generation: u32) -> bool {
        self.generation == generation & 0xff_ffff
    }

    pub(crate) fn encode(self) -> u64 {
        let op = Op::ALL.iter().position(|o| *o == self.op).unwrap_or(0) as u64;
        op << 56 | u64::from(self.generation) << 32 | u64::from(self.slot)
    }

    /// The user data a completion carries; `None` for a value no submission made.
    pub(crate) fn decode(raw: u64) -> Option<Self> {
        let op = *Op::ALL.get((raw >> 56) as usize)?;
        Some(Self {
            op,
            slot: raw as u32,
            generation: (raw >> 32) as u32 & 0xff_ffff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_survives_the_round_trip_and_tells_generations_apart() {
        for op in Op::ALL {
            let data = UserData::new(op, 0xdead_beef, 0x0123_4567);
            assert_eq!(UserData::decode(data.encode()), Some(data));
            assert!(data.is_generation(0x0123_4567) && !data.is_generation(0x0123_4568));
        }
        assert_eq!(UserData::decode(u64::MAX), None);
        assert_eq!(UserData::of_loop(Op::Timer).slot, u32::MAX);
    }
}
