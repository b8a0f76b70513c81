//! Grant table v1 bookkeeping: the free list, each entry's state, growth, and the revoke protocol.
//! Pure logic over [`GrantMemory`] (the real one: volatile/atomic access to the mapped grant frames,
//! see `grant/xen.rs`), host-tested.
//!
//! Granting writes `domid` and `frame`, then publishes `flags = permit_access [| readonly]` (release:
//! the peer must never see the flag before the frame). Revoking is Linux's
//! `gnttab_end_foreign_access_ref`: while the peer maps the page Xen keeps `GTF_reading`/`GTF_writing`
//! set, and the revoke fails with the entry still granted (so neither the reference nor the page can be
//! reused); otherwise a compare-and-swap of the flags to 0 ends the grant, racing safely with a peer
//! that maps at that moment.

extern crate alloc;
use alloc::vec::Vec;

use xen_traits::{DomId, GrantError, GrantRef, Pfn, RevokeError};

use crate::abi::grant::{GNTTAB_NR_RESERVED_ENTRIES, GTF_permit_access, GTF_reading, GTF_readonly, GTF_writing};

/// Access to the entries of the mapped grant frames.
pub trait GrantMemory {
    /// Entries currently mapped (a multiple of 512).
    fn capacity(&self) -> u32;
    /// Maps one more frame (table growth). Returns the new capacity, or `None` when Xen's limit is reached
    /// or growing failed.
    fn grow(&mut self) -> Option<u32>;
    /// Writes `domid` and `frame` of entry `gref` (volatile; the entry's flags are 0).
    fn write_entry(&self, gref: u32, domid: u16, frame: u32);
    /// Stores the flags of entry `gref` with release ordering (after the domid and frame).
    fn store_flags(&self, gref: u32, flags: u16);
    /// Loads the flags of entry `gref` (acquire).
    fn load_flags(&self, gref: u32) -> u16;
    /// Atomically replaces the flags of `gref` with `new` if they are `old`; returns the value seen.
    fn cas_flags(&self, gref: u32, old: u16, new: u16) -> Result<(), u16>;
}

/// What we know about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// Reserved for the toolstack (entries 0..8) or not ours to hand out.
    Reserved,
    Free,
    Granted { dom: DomId, frame: Pfn, readonly: bool },
}

/// The grant table: implements [`xen_traits::GrantTable`] over any [`GrantMemory`].
pub struct Grants<M: GrantMemory> {
    mem: M,
    states: Vec<EntryState>,
    /// Free references, popped from the end (lowest reference on top).
    free: Vec<u32>,
}

impl<M: GrantMemory> Grants<M> {
    pub fn new(mem: M) -> Self {
        let mut g = Grants { mem, states: Vec::new(), free: Vec::new() };
        g.adopt(g.mem.capacity());
        g
    }

    /// Takes entries `states.len()..capacity` into the table.
    fn adopt(&mut self, capacity: u32) {
        let old = self.states.len() as u32;
        for r in old..capacity {
            self.states.push(if r < GNTTAB_NR_RESERVED_ENTRIES { EntryState::Reserved } else { EntryState::Free });
        }
        // Highest first, so the lowest reference is handed out first.
        self.free.extend((old.max(GNTTAB_NR_RESERVED_ENTRIES)..capacity).rev());
    }

    pub fn state(&self, gref: GrantRef) -> Option<EntryState> {
        self.states.get(gref.0 as usize).copied()
    }

    /// Entries mapped.
    pub fn capacity(&self) -> u32 {
        self.states.len() as u32
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Whether the peer currently maps (or copies from) the page of `gref`.
    pub fn in_use(&self, gref: GrantRef) -> bool {
        matches!(self.state(gref), Some(EntryState::Granted { .. }))
            && self.mem.load_flags(gref.0) & (GTF_reading | GTF_writing) != 0
    }

    pub fn grant(&mut self, dom: DomId, frame: Pfn, readonly: bool) -> Result<GrantRef, GrantError> {
        if !dom.is_real() {
            return Err(GrantError::InvalidDomain);
        }
        let frame32 = u32::try_from(frame.0).map_err(|_| GrantError::InvalidFrame)?;
        if self.free.is_empty() {
            match self.mem.grow() {
                Some(cap) if cap > self.capacity() => self.adopt(cap),
                _ => return Err(GrantError::Exhausted),
            }
        }
        let r = self.free.pop().ok_or(GrantError::Exhausted)?;
        debug_assert_eq!(self.states[r as usize], EntryState::Free);
        self.mem.write_entry(r, dom.0, frame32);
        self.mem.store_flags(r, GTF_permit_access | if readonly { GTF_readonly } else { 0 });
        self.states[r as usize] = EntryState::Granted { dom, frame, readonly };
        Ok(GrantRef(r))
    }

    pub fn revoke(&mut self, gref: GrantRef) -> Result<(), RevokeError> {
        let r = gref.0;
        if !matches!(self.state(gref), Some(EntryState::Granted { .. })) {
            return Err(RevokeError::InvalidRef);
        }
        let mut flags = self.mem.load_flags(r);
        loop {
            if flags & (GTF_reading | GTF_writing) != 0 {
                return Err(RevokeError::StillInUse);
            }
            match self.mem.cas_flags(r, flags, 0) {
                Ok(()) => break,
                Err(seen) => flags = seen,
            }
        }
        self.states[r as usize] = EntryState::Free;
        self.free.push(r);
        Ok(())
    }
}

impl<M: GrantMemory> xen_traits::GrantTable for Grants<M> {
    fn grant(&mut self, dom: DomId, frame: Pfn, readonly: bool) -> Result<GrantRef, GrantError> {
        Grants::grant(self, dom, frame, readonly)
    }
    fn revoke(&mut self, gref: GrantRef) -> Result<(), RevokeError> {
        Grants::revoke(self, gref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use xen_traits::GrantTable;

    /// Entries in plain memory; `max` is Xen's frame limit; `peer` simulates the peer's map/unmap.
    struct Mem {
        entries: RefCell<Vec<(u16, u16, u32)>>,
        max_frames: u32,
        /// Called before each CAS: lets a test play a peer that maps the page just then.
        before_cas: Cell<Option<u16>>,
        grows: Cell<u32>,
    }

    impl Mem {
        fn new(frames: u32, max_frames: u32) -> Self {
            Mem { entries: RefCell::new(vec![(0, 0, 0); (frames * 512) as usize]), max_frames, before_cas: Cell::new(None), grows: Cell::new(0) }
        }
        fn peer_sets(&self, r: u32, bits: u16) {
            self.entries.borrow_mut()[r as usize].0 |= bits;
        }
        fn peer_clears(&self, r: u32, bits: u16) {
            self.entries.borrow_mut()[r as usize].0 &= !bits;
        }
        fn entry(&self, r: u32) -> (u16, u16, u32) {
            self.entries.borrow()[r as usize]
        }
    }

    impl GrantMemory for &Mem {
        fn capacity(&self) -> u32 {
            self.entries.borrow().len() as u32
        }
        fn grow(&mut self) -> Option<u32> {
            let cap = self.capacity();
            if cap / 512 >= self.max_frames {
                return None;
            }
            self.grows.set(self.grows.get() + 1);
            self.entries.borrow_mut().resize((cap + 512) as usize, (0, 0, 0));
            Some(cap + 512)
        }
        fn write_entry(&self, r: u32, domid: u16, frame: u32) {
            let mut e = self.entries.borrow_mut();
            assert_eq!(e[r as usize].0, 0, "entry written while its flags are live");
            e[r as usize].1 = domid;
            e[r as usize].2 = frame;
        }
        fn store_flags(&self, r: u32, flags: u16) {
            self.entries.borrow_mut()[r as usize].0 = flags;
        }
        fn load_flags(&self, r: u32) -> u16 {
            self.entries.borrow()[r as usize].0
        }
        fn cas_flags(&self, r: u32, old: u16, new: u16) -> Result<(), u16> {
            if let Some(bits) = self.before_cas.take() {
                self.peer_sets(r, bits);
            }
            let mut e = self.entries.borrow_mut();
            if e[r as usize].0 == old {
                e[r as usize].0 = new;
                Ok(())
            } else {
                Err(e[r as usize].0)
            }
        }
    }

    #[test]
    fn grants_skip_reserved_entries_and_write_the_entry() {
        let mem = Mem::new(1, 4);
        let mut g = Grants::new(&mem);
        assert_eq!(g.free_count(), 512 - 8);
        let r = g.grant(DomId(0), Pfn(0x1234), false).unwrap();
        assert_eq!(r, GrantRef(8));
        assert_eq!(mem.entry(8), (GTF_permit_access, 0, 0x1234));
        let r2 = g.grant(DomId(3), Pfn(0x99), true).unwrap();
        assert_eq!(r2, GrantRef(9));
        assert_eq!(mem.entry(9), (GTF_permit_access | GTF_readonly, 3, 0x99));
        assert_eq!(g.state(r2), Some(EntryState::Granted { dom: DomId(3), frame: Pfn(0x99), readonly: true }));
        assert_eq!(g.state(GrantRef(0)), Some(EntryState::Reserved));
    }

    #[test]
    fn revoke_frees_and_the_reference_is_reused() {
        let mem = Mem::new(1, 1);
        let mut g = Grants::new(&mem);
        let r = g.grant(DomId(0), Pfn(1), false).unwrap();
        g.revoke(r).unwrap();
        assert_eq!(mem.entry(r.0).0, 0);
        assert_eq!(g.state(r), Some(EntryState::Free));
        assert_eq!(g.revoke(r), Err(RevokeError::InvalidRef), "double revoke");
        assert_eq!(g.revoke(GrantRef(3)), Err(RevokeError::InvalidRef), "reserved entry");
        assert_eq!(g.revoke(GrantRef(100_000)), Err(RevokeError::InvalidRef), "beyond the table");
        assert_eq!(g.grant(DomId(0), Pfn(2), false).unwrap(), r, "freed reference comes back first");
    }

    #[test]
    fn revoke_fails_while_the_peer_maps_the_page() {
        let mem = Mem::new(1, 1);
        let mut g = Grants::new(&mem);
        let r = g.grant(DomId(0), Pfn(7), false).unwrap();
        for bits in [GTF_reading, GTF_writing, GTF_reading | GTF_writing] {
            mem.peer_sets(r.0, bits);
            assert!(g.in_use(r));
            assert_eq!(g.revoke(r), Err(RevokeError::StillInUse));
            // Still granted: the reference is not handed out again, and the entry is intact.
            assert!(matches!(g.state(r), Some(EntryState::Granted { .. })));
            assert_eq!(mem.entry(r.0).2, 7);
            assert_ne!(g.grant(DomId(0), Pfn(8), false).unwrap(), r);
            mem.peer_clears(r.0, bits);
        }
        assert!(!g.in_use(r));
        g.revoke(r).unwrap();
    }

    #[test]
    fn revoke_racing_with_a_peer_map_fails_safely() {
        let mem = Mem::new(1, 1);
        let mut g = Grants::new(&mem);
        let r = g.grant(DomId(0), Pfn(7), false).unwrap();
        // The peer maps between our load and our compare-and-swap.
        mem.before_cas.set(Some(GTF_reading));
        assert_eq!(g.revoke(r), Err(RevokeError::StillInUse));
        assert_eq!(mem.entry(r.0).0, GTF_permit_access | GTF_reading);
        mem.peer_clears(r.0, GTF_reading);
        g.revoke(r).unwrap();
    }

    #[test]
    fn grows_when_the_first_frame_is_used_up_and_stops_at_the_limit() {
        let mem = Mem::new(1, 3);
        let mut g = Grants::new(&mem);
        let mut refs = Vec::new();
        for i in 0..(3 * 512 - 8) {
            refs.push(g.grant(DomId(0), Pfn(i), false).unwrap());
        }
        assert_eq!(mem.grows.get(), 2);
        assert_eq!(g.capacity(), 1536);
        assert_eq!(refs[503], GrantRef(511));
        assert_eq!(refs[504], GrantRef(512), "growth continues at the next entry");
        assert_eq!(g.grant(DomId(0), Pfn(1), false), Err(GrantError::Exhausted));
        // All distinct.
        let mut sorted: Vec<u32> = refs.iter().map(|r| r.0).collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), refs.len());
        for r in &refs {
            g.revoke(*r).unwrap();
        }
        assert_eq!(g.free_count(), 1536 - 8);
    }

    #[test]
    fn bad_domain_or_frame_is_refused_without_using_an_entry() {
        let mem = Mem::new(1, 1);
        let mut g = Grants::new(&mem);
        assert_eq!(g.grant(DomId::SELF, Pfn(1), false), Err(GrantError::InvalidDomain));
        assert_eq!(g.grant(DomId(0), Pfn(1 << 32), false), Err(GrantError::InvalidFrame));
        assert_eq!(g.free_count(), 504);
        // Through the trait, as drivers use it.
        let t: &mut dyn GrantTable = &mut g;
        let r = t.grant(DomId(1), Pfn(5), false).unwrap();
        t.revoke(r).unwrap();
    }
}
