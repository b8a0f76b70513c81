//! The pending-bit scan of the 2-level event channel ABI, fair and bounded. Pure logic over
//! [`EventBits`], so it is host-tested; on Xen the bits live in `shared_info` and `vcpu_info`.
//!
//! Xen marks port `p` by setting bit `p` of `evtchn_pending` and, if the port is unmasked, bit `p / 64`
//! of the vCPU's `evtchn_pending_sel` (then `evtchn_upcall_pending`). A scan takes the selector, then
//! visits the selected words. Fairness: a scan starts one port after the port it served last and goes
//! round once, serving each pending unmasked port at most once. A port that is re-raised while it is
//! being served (a storm) waits for the next scan, so every other pending port is served before it
//! again: no port can starve another, and one scan does bounded work.

/// Ports of the 2-level ABI on x86-64: 64 words of 64 bits.
pub const NR_PORTS: u32 = 4096;
const _: () = assert!(NR_PORTS / 64 == 64, "one 64-bit selector covers every word");

/// The bitmaps a scan reads. Every access must be a single atomic (or volatile) access: Xen and other
/// vCPUs change the bits concurrently.
pub trait EventBits {
    /// Atomically exchanges this vCPU's `evtchn_pending_sel` with 0 and returns the old value.
    fn take_selector(&self) -> u64;
    /// Word `word` (< 64) of `evtchn_pending`.
    fn pending(&self, word: usize) -> u64;
    /// Word `word` (< 64) of `evtchn_mask`.
    fn mask(&self, word: usize) -> u64;
    /// Atomically clears the pending bit of `port`; returns whether it was set.
    fn test_and_clear_pending(&self, port: u32) -> bool;
}

/// Scan state kept between scans.
#[derive(Debug, Default, Clone)]
pub struct Scanner {
    /// Selector bits taken from Xen whose words may still hold pending, unmasked ports.
    sel: u64,
    /// Where the next scan starts: one after the port served last.
    next: u32,
}

/// Bits `[from, from + len)` of a word (`from + len <= 64`).
fn bit_range(from: u32, len: u32) -> u64 {
    let ones = if len >= 64 { u64::MAX } else { (1u64 << len) - 1 };
    ones << from
}

impl Scanner {
    pub const fn new() -> Scanner {
        Scanner { sel: 0, next: 0 }
    }

    /// Whether selected words may still hold work (the caller also checks Xen's selector).
    pub fn has_work(&self) -> bool {
        self.sel != 0
    }

    /// Where the next scan starts.
    pub fn next_port(&self) -> u32 {
        self.next
    }

    /// Takes Xen's selector, then serves each pending unmasked port at most once, clearing its pending bit
    /// before calling `f(port)`, in port order starting after the port served last and wrapping around.
    /// Returns how many ports were served.
    pub fn scan(&mut self, bits: &impl EventBits, f: &mut dyn FnMut(u32)) -> usize {
        self.sel |= bits.take_selector();
        let mut served = 0;
        let mut port = self.next % NR_PORTS;
        let mut covered = 0;
        // One revolution: the start word's upper part first, its lower part last.
        while covered < NR_PORTS && self.sel != 0 {
            let word = port / 64;
            let bit = port % 64;
            let span = (64 - bit).min(NR_PORTS - covered);
            if self.sel & (1 << word) != 0 {
                let w = word as usize;
                let mut live = bits.pending(w) & !bits.mask(w) & bit_range(bit, span);
                while live != 0 {
                    let b = live.trailing_zeros();
                    live &= live - 1;
                    let p = word * 64 + b;
                    if bits.test_and_clear_pending(p) {
                        self.next = (p + 1) % NR_PORTS;
                        served += 1;
                        f(p);
                    }
                }
                // Forget the word once nothing deliverable is left in it (masked ports are re-raised by
                // Xen when they are unmasked; ports raised later set Xen's selector again).
                if bits.pending(w) & !bits.mask(w) == 0 {
                    self.sel &= !(1 << word);
                }
            }
            covered += span;
            port = (port + span) % NR_PORTS;
        }
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// Bitmaps in plain memory, with a hook that runs when a port is served (to raise events
    /// mid-scan, as a backend on another CPU would).
    struct Bits {
        pending: RefCell<[u64; 64]>,
        mask: RefCell<[u64; 64]>,
        sel: Cell<u64>,
    }

    impl Default for Bits {
        fn default() -> Self {
            Bits { pending: RefCell::new([0; 64]), mask: RefCell::new([0; 64]), sel: Cell::new(0) }
        }
    }

    impl Bits {
        /// Raises `port` the way Xen's evtchn_2l_set_pending does.
        fn raise(&self, port: u32) {
            let (w, b) = ((port / 64) as usize, port % 64);
            let was = self.pending.borrow()[w] & (1 << b) != 0;
            self.pending.borrow_mut()[w] |= 1 << b;
            if !was && self.mask.borrow()[w] & (1 << b) == 0 {
                self.sel.set(self.sel.get() | 1 << w);
            }
        }
        fn set_mask(&self, port: u32, on: bool) {
            let (w, b) = ((port / 64) as usize, port % 64);
            if on {
                self.mask.borrow_mut()[w] |= 1 << b;
            } else {
                self.mask.borrow_mut()[w] &= !(1 << b);
                // EVTCHNOP_unmask re-raises a pending port.
                if self.pending.borrow()[w] & (1 << b) != 0 {
                    self.sel.set(self.sel.get() | 1 << w);
                }
            }
        }
        fn is_pending(&self, port: u32) -> bool {
            self.pending.borrow()[(port / 64) as usize] & (1 << (port % 64)) != 0
        }
    }

    impl EventBits for Bits {
        fn take_selector(&self) -> u64 {
            self.sel.replace(0)
        }
        fn pending(&self, word: usize) -> u64 {
            self.pending.borrow()[word]
        }
        fn mask(&self, word: usize) -> u64 {
            self.mask.borrow()[word]
        }
        fn test_and_clear_pending(&self, port: u32) -> bool {
            let (w, b) = ((port / 64) as usize, port % 64);
            let was = self.pending.borrow()[w] & (1 << b) != 0;
            self.pending.borrow_mut()[w] &= !(1 << b);
            was
        }
    }

    fn scan(s: &mut Scanner, bits: &Bits) -> Vec<u32> {
        let mut got = Vec::new();
        s.scan(bits, &mut |p| got.push(p));
        got
    }

    #[test]
    fn serves_every_pending_port_once_and_clears_it() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        for p in [3, 64, 65, 700, 4095] {
            bits.raise(p);
        }
        assert_eq!(scan(&mut s, &bits), vec![3, 64, 65, 700, 4095]);
        assert!((0..NR_PORTS).all(|p| !bits.is_pending(p)));
        assert!(!s.has_work());
        assert_eq!(scan(&mut s, &bits), Vec::<u32>::new());
    }

    #[test]
    fn resumes_after_the_port_served_last() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        bits.raise(10);
        assert_eq!(scan(&mut s, &bits), vec![10]);
        assert_eq!(s.next_port(), 11);
        for p in [5, 10, 11, 200] {
            bits.raise(p);
        }
        // Starts at 11, wraps around to 5 and 10 last.
        assert_eq!(scan(&mut s, &bits), vec![11, 200, 5, 10]);
        assert_eq!(s.next_port(), 11);
    }

    #[test]
    fn wraps_inside_the_start_word() {
        let bits = Bits::default();
        let mut s = Scanner { sel: 0, next: 70 };
        for p in [64, 69, 70, 127, 128] {
            bits.raise(p);
        }
        assert_eq!(scan(&mut s, &bits), vec![70, 127, 128, 64, 69]);
    }

    #[test]
    fn masked_ports_are_not_served_until_unmasked() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        bits.set_mask(7, true);
        bits.raise(7);
        bits.raise(8);
        assert_eq!(scan(&mut s, &bits), vec![8]);
        assert!(bits.is_pending(7), "a masked port stays pending");
        assert!(!s.has_work(), "a word with only masked ports is forgotten");
        bits.set_mask(7, false);
        assert_eq!(scan(&mut s, &bits), vec![7]);
    }

    #[test]
    fn a_storm_on_one_port_cannot_starve_the_others() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        // Port 1 is re-raised every time anything is served (a backend hammering it); ports 2..50 and
        // 3000 are raised once.
        for p in (2..50).chain([3000]) {
            bits.raise(p);
        }
        bits.raise(1);
        let mut served = Vec::new();
        for _ in 0..3 {
            let bits_ref = &bits;
            let mut round = Vec::new();
            s.scan(bits_ref, &mut |p| {
                round.push(p);
                bits_ref.raise(1);
            });
            // Bounded: one revolution serves each port at most once.
            let ones = round.iter().filter(|&&p| p == 1).count();
            assert!(ones <= 1, "port 1 served {ones} times in one scan");
            served.extend(round);
        }
        for p in (2..50).chain([3000]) {
            assert_eq!(served.iter().filter(|&&q| q == p).count(), 1, "port {p}");
        }
        // The storming port is still served once per scan.
        assert_eq!(served.iter().filter(|&&p| p == 1).count(), 3);
    }

    #[test]
    fn two_storming_ports_alternate() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        bits.raise(100);
        bits.raise(2000);
        let mut order = Vec::new();
        for _ in 0..6 {
            let b = &bits;
            s.scan(b, &mut |p| {
                order.push(p);
                b.raise(p);
            });
        }
        assert_eq!(order.len(), 12);
        assert!(order.windows(2).all(|w| w[0] != w[1]), "{order:?}");
    }

    #[test]
    fn events_raised_mid_scan_wait_for_the_next_scan() {
        let bits = Bits::default();
        let mut s = Scanner::new();
        bits.raise(5);
        let b = &bits;
        let mut got = Vec::new();
        s.scan(b, &mut |p| {
            got.push(p);
            if p == 5 {
                // Same word (already read) and a later word (selector set by Xen): both are
                // left for the next scan, which keeps one scan bounded.
                b.raise(9);
                b.raise(900);
            }
        });
        assert_eq!(got, vec![5]);
        assert!(s.has_work() || bits.sel.get() != 0);
        assert_eq!(scan(&mut s, &bits), vec![9, 900]);
    }

    #[test]
    fn random_raises_lose_nothing() {
        // A tiny LCG: deterministic "random" raise patterns interleaved with scans.
        let bits = Bits::default();
        let mut s = Scanner::new();
        let mut raised = vec![0u32; NR_PORTS as usize];
        let mut seen = vec![0u32; NR_PORTS as usize];
        let mut x: u64 = 12345;
        for _round in 0..500 {
            for _ in 0..(x % 40) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let p = ((x >> 33) % u64::from(NR_PORTS)) as u32;
                if !bits.is_pending(p) {
                    raised[p as usize] += 1;
                }
                bits.raise(p);
            }
            s.scan(&bits, &mut |p| seen[p as usize] += 1);
        }
        while s.has_work() || bits.sel.get() != 0 {
            s.scan(&bits, &mut |p| seen[p as usize] += 1);
        }
        assert_eq!(raised, seen);
    }
}
