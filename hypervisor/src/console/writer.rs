//! Writing a whole buffer into the ring: publish what fits, notify the backend, wait for space; and
//! flushing (waiting until the backend consumed everything). Waiting is bounded by the caller's [`Wait`].

use super::ring::{ConsoleRing, RingError, RingMemory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleError {
    Ring(RingError),
    /// The backend did not make room before the deadline; `written` bytes were accepted.
    Stalled { written: usize },
}

impl From<RingError> for ConsoleError {
    fn from(e: RingError) -> Self {
        ConsoleError::Ring(e)
    }
}

/// What the writer needs from its environment.
pub trait Wait {
    /// Tells the backend there is data (an event channel send).
    fn notify(&mut self);
    /// Lets the backend run for a moment. Returns `false` once the overall deadline has passed.
    fn wait(&mut self) -> bool;
}

/// Writes all of `data`, notifying and waiting whenever the ring is full. Does not notify after the last
/// chunk: callers batch output and call `notify` (or [`flush`]) at a line end.
pub fn write_all<M: RingMemory>(
    ring: &mut ConsoleRing<M>,
    data: &[u8],
    env: &mut impl Wait,
) -> Result<(), ConsoleError> {
    let mut written = 0;
    while written < data.len() {
        let n = ring.write(&data[written..])?;
        written += n;
        if written < data.len() && n == 0 {
            env.notify();
            if !env.wait() {
                return Err(ConsoleError::Stalled { written });
            }
        }
    }
    Ok(())
}

/// Waits until the backend consumed everything, notifying it before each wait (a backend that connects
/// late or missed an event still gets told).
pub fn flush<M: RingMemory>(ring: &ConsoleRing<M>, env: &mut impl Wait) -> Result<(), ConsoleError> {
    while ring.pending()? != 0 {
        env.notify();
        if !env.wait() {
            return Err(ConsoleError::Stalled { written: 0 });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::ring::tests::FakeRing;

    /// A backend that consumes `per_notify` bytes whenever it is notified, with a wait budget.
    struct Backend<'a> {
        fake: &'a FakeRing,
        per_notify: u32,
        waits_left: u32,
        notifies: u32,
        received: Vec<u8>,
    }

    impl Wait for Backend<'_> {
        fn notify(&mut self) {
            self.notifies += 1;
            let got = self.fake.consume(self.per_notify);
            self.received.extend(got);
        }
        fn wait(&mut self) -> bool {
            if self.waits_left == 0 {
                return false;
            }
            self.waits_left -= 1;
            true
        }
    }

    #[test]
    fn long_write_goes_through_a_small_ring_without_loss() {
        let fake = FakeRing::new(3);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        let mut be = Backend { fake: &fake, per_notify: 5, waits_left: 100, notifies: 0, received: vec![] };
        let msg: Vec<u8> = (0..=255u8).collect();
        write_all(&mut ring, &msg, &mut be).unwrap();
        flush(&ring, &mut be).unwrap();
        assert_eq!(be.received, msg);
        assert!(be.notifies > 256 / 16);
    }

    #[test]
    fn stuck_backend_stalls_after_the_wait_budget() {
        let fake = FakeRing::new(0);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        let mut be = Backend { fake: &fake, per_notify: 0, waits_left: 3, notifies: 0, received: vec![] };
        assert_eq!(write_all(&mut ring, &[b'x'; 40], &mut be), Err(ConsoleError::Stalled { written: 16 }));
        assert_eq!(be.notifies, 4);
        assert_eq!(flush(&ring, &mut be), Err(ConsoleError::Stalled { written: 0 }));
    }

    #[test]
    fn flush_waits_until_drained() {
        let fake = FakeRing::new(0);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        let mut be = Backend { fake: &fake, per_notify: 0, waits_left: 10, notifies: 0, received: vec![] };
        write_all(&mut ring, b"0123456789", &mut be).unwrap();
        assert_eq!(be.notifies, 0, "a write that fits does not notify by itself");
        be.per_notify = 3;
        be.waits_left = 2;
        // Three notifies consume 9 bytes; the third wait finds the budget gone with 1 byte pending.
        assert_eq!(flush(&ring, &mut be), Err(ConsoleError::Stalled { written: 0 }));
        assert_eq!(ring.pending().unwrap(), 1);
        assert_eq!(be.notifies, 3);
        be.waits_left = 1;
        flush(&ring, &mut be).unwrap();
        assert_eq!(be.received, b"0123456789");
        assert_eq!(be.waits_left, 0, "it took exactly one more round");
    }

    #[test]
    fn corrupt_backend_index_is_an_error() {
        let fake = FakeRing::new(0);
        let mut ring = ConsoleRing::new(&fake).unwrap();
        let mut be = Backend { fake: &fake, per_notify: 0, waits_left: 10, notifies: 0, received: vec![] };
        fake.cons.set(1000);
        assert!(matches!(write_all(&mut ring, b"x", &mut be), Err(ConsoleError::Ring(_))));
        assert!(matches!(flush(&ring, &mut be), Err(ConsoleError::Ring(_))));
    }
}
