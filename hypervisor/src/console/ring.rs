//! Producer side of the console `out` ring. The guest owns `out_prod`; the backend (xenconsoled) owns
//! `out_cons`. We keep our own copy of `out_prod` and never trust the shared one after start-up; each
//! `out_cons` read is copied once and validated: a gap `prod - cons` larger than the ring is reported as
//! [`RingError::Corrupt`].

/// Access to the shared ring. Implementations must make `store_out_prod` a release store (data bytes
/// written before it are visible to the backend first) and `load_out_cons` an acquire load.
pub trait RingMemory {
    /// Size of the `out` ring in bytes (a power of two).
    const SIZE: u32;
    fn load_out_cons(&self) -> u32;
    fn load_out_prod(&self) -> u32;
    fn store_out_prod(&self, prod: u32);
    /// Writes one byte of the `out` array; `index < SIZE`.
    fn write_out(&self, index: u32, byte: u8);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// The backend's consumer index is not within one ring of our producer index.
    Corrupt { cons: u32, prod: u32 },
}

/// The producer end of a console `out` ring.
pub struct ConsoleRing<M: RingMemory> {
    mem: M,
    prod: u32,
}

impl<M: RingMemory> ConsoleRing<M> {
    /// Takes over the ring, continuing at the current shared `out_prod` (the ring may already hold
    /// output from an earlier writer, e.g. before a crash handler took over). Fails if that index is
    /// not within one ring of the backend's `out_cons`.
    pub fn new(mem: M) -> Result<Self, RingError> {
        let prod = mem.load_out_prod();
        let ring = ConsoleRing { mem, prod };
        ring.pending()?;
        Ok(ring)
    }

    /// Bytes written but not yet consumed by the backend.
    pub fn pending(&self) -> Result<u32, RingError> {
        let cons = self.mem.load_out_cons();
        let gap = self.prod.wrapping_sub(cons);
        if gap > M::SIZE {
            return Err(RingError::Corrupt { cons, prod: self.prod });
        }
        Ok(gap)
    }

    /// Free space in bytes.
    pub fn space(&self) -> Result<u32, RingError> {
        Ok(M::SIZE - self.pending()?)
    }

    /// Copies as much of `data` as fits, publishes it, and returns how many bytes were taken.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, RingError> {
        let space = self.space()? as usize;
        let n = space.min(data.len());
        for (i, &b) in data[..n].iter().enumerate() {
            // `i < n <= SIZE` fits u32; the mask keeps the index inside the ring.
            self.mem.write_out(self.prod.wrapping_add(i as u32) & (M::SIZE - 1), b);
        }
        if n > 0 {
            self.prod = self.prod.wrapping_add(n as u32);
            self.mem.store_out_prod(self.prod);
        }
        Ok(n)
    }

    /// The shared memory (for tests and for notifying).
    pub fn memory(&self) -> &M {
        &self.mem
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// An in-memory ring with a scriptable consumer.
    pub struct FakeRing {
        pub out: RefCell<Vec<u8>>,
        pub cons: Cell<u32>,
        pub prod: Cell<u32>,
    }

    impl FakeRing {
        pub fn new(start: u32) -> Self {
            FakeRing { out: RefCell::new(vec![0; 16]), cons: Cell::new(start), prod: Cell::new(start) }
        }
        /// What the backend would read: consume up to `max` bytes.
        pub fn consume(&self, max: u32) -> Vec<u8> {
            let mut v = Vec::new();
            while self.cons.get() != self.prod.get() && (v.len() as u32) < max {
                v.push(self.out.borrow()[(self.cons.get() & (Self::SIZE - 1)) as usize]);
                self.cons.set(self.cons.get().wrapping_add(1));
            }
            v
        }
    }

    impl RingMemory for &FakeRing {
        const SIZE: u32 = 16;
        fn load_out_cons(&self) -> u32 {
            self.cons.get()
        }
        fn load_out_prod(&self) -> u32 {
            self.prod.get()
        }
        fn store_out_prod(&self, prod: u32) {
            self.prod.set(prod)
        }
        fn write_out(&self, index: u32, byte: u8) {
            assert!(index < 16);
            self.out.borrow_mut()[index as usize] = byte;
        }
    }

    impl FakeRing {
        const SIZE: u32 = 16;
    }

    #[test]
    fn writes_and_consumes_in_order() {
        let fake = FakeRing::new(0);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        assert_eq!(ring.write(b"hello").unwrap(), 5);
        assert_eq!(ring.pending().unwrap(), 5);
        assert_eq!(fake.consume(100), b"hello");
        assert_eq!(ring.pending().unwrap(), 0);
    }

    #[test]
    fn full_ring_takes_only_what_fits() {
        let fake = FakeRing::new(0);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        assert_eq!(ring.write(b"0123456789abcdefXYZ").unwrap(), 16);
        assert_eq!(ring.space().unwrap(), 0);
        assert_eq!(ring.write(b"more").unwrap(), 0);
        assert_eq!(fake.consume(4), b"0123");
        assert_eq!(ring.write(b"XYZ!!").unwrap(), 4);
        assert_eq!(fake.consume(100), b"456789abcdefXYZ!");
    }

    #[test]
    fn wraps_around_the_ring_and_the_u32_index() {
        // Start just below u32::MAX so both the byte index and the counter wrap.
        let fake = FakeRing::new(u32::MAX - 5);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        let mut seen = Vec::new();
        let msg: Vec<u8> = (0..100u8).collect();
        let mut sent = 0;
        while sent < msg.len() {
            sent += ring.write(&msg[sent..(sent + 7).min(msg.len())]).unwrap();
            seen.extend(fake.consume(5));
        }
        seen.extend(fake.consume(100));
        assert_eq!(seen, msg);
        assert!(fake.prod.get() < 100, "the index wrapped past u32::MAX");
    }

    #[test]
    fn consumer_ahead_of_producer_is_corrupt() {
        let fake = FakeRing::new(10);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        fake.cons.set(11); // backend claims to have consumed a byte we never wrote
        assert_eq!(ring.write(b"x"), Err(RingError::Corrupt { cons: 11, prod: 10 }));
        assert_eq!(ring.pending(), Err(RingError::Corrupt { cons: 11, prod: 10 }));
    }

    #[test]
    fn gap_larger_than_ring_is_corrupt_at_takeover() {
        let fake = FakeRing::new(0);
        fake.prod.set(17);
        assert!(matches!(ConsoleRing::new(&fake), Err(RingError::Corrupt { cons: 0, prod: 17 })));
        fake.prod.set(16);
        assert!(ConsoleRing::new(&fake).is_ok());
    }

    #[test]
    fn takeover_continues_after_existing_output() {
        let fake = FakeRing::new(0);
        ConsoleRing::new(&fake).unwrap().write(b"abc").unwrap();
        let mut second = ConsoleRing::new(&fake).unwrap();
        second.write(b"def").unwrap();
        assert_eq!(fake.consume(100), b"abcdef");
    }
}
