//! The rooms of a chat run: one (`--room`), or, with `--room-size`, the clients spread in
//! order over `ceil(clients / size)` rooms named `ROOM-0`, `ROOM-1`, …

/// How the clients are spread over rooms.
#[derive(Clone, Debug)]
pub(super) struct Rooms {
    base: String,
    /// Clients per room (the last room may have fewer); `None`: one room.
    size: Option<usize>,
    count: usize,
}

impl Rooms {
    /// The rooms of `clients` clients: all in `base`, or `size` per room.
    pub(super) fn new(base: &str, clients: usize, size: Option<usize>) -> Self {
        let count = size.map_or(1, |size| clients.div_ceil(size).max(1));
        Self {
            base: base.to_owned(),
            size,
            count,
        }
    }

    /// How many rooms.
    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// The room of client `number`.
    pub(super) fn of(&self, number: usize) -> usize {
        self.size
            .map_or(0, |size| (number / size).min(self.count - 1))
    }

    /// The name of room `room`.
    pub(super) fn name(&self, room: usize) -> String {
        match self.size {
            None => self.base.clone(),
            Some(_) => format!("{}-{room}", self.base),
        }
    }

    /// The rooms for people: `#bench` or `100 rooms #bench-0..#bench-99`.
    pub(super) fn describe(&self) -> String {
        match self.size {
            None => format!("#{}", self.base),
            Some(_) => format!(
                "{} rooms #{}..#{}",
                self.count,
                self.name(0),
                self.name(self.count - 1)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_fill_rooms_in_order() {
        let rooms = Rooms::new("bench", 250, Some(100));
        assert_eq!(rooms.count(), 3);
        assert_eq!(
            (rooms.of(0), rooms.of(99), rooms.of(100), rooms.of(249)),
            (0, 0, 1, 2)
        );
        assert_eq!(rooms.name(2), "bench-2");
        let one = Rooms::new("bench", 250, None);
        assert_eq!(
            (one.count(), one.of(249), one.name(0)),
            (1, 0, "bench".into())
        );
    }
}
