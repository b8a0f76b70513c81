//! Fake guest memory and grant table: the driver grants frames, a fake backend maps them (getting the same
//! [`FakePage`]), and revoking a grant that is still mapped fails like on Xen.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use xen_traits::{DomId, GrantError, GrantRef, GrantTable, Pfn, RevokeError};

use crate::page::FakePage;

/// Guest-physical memory: frames handed out as [`FakePage`]s.
#[derive(Clone, Debug, Default)]
pub struct FakeMemory {
    inner: Arc<Mutex<(u64, HashMap<u64, FakePage>)>>,
}

impl FakeMemory {
    /// Empty memory.
    pub fn new() -> FakeMemory {
        Self::default()
    }

    /// Allocate a zeroed frame.
    pub fn alloc_page(&self) -> (Pfn, FakePage) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.0 += 1;
        let pfn = 0x1000 + m.0;
        let page = FakePage::new();
        m.1.insert(pfn, page.clone());
        (Pfn(pfn), page)
    }

    /// The page of frame `pfn`.
    pub fn page(&self, pfn: Pfn) -> Option<FakePage> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .get(&pfn.0)
            .cloned()
    }
}

/// One recorded grant table call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantCall {
    /// `grant(dom, frame, readonly)` and its result.
    Grant(DomId, Pfn, bool, Result<GrantRef, GrantError>),
    /// `revoke(gref)` and its result.
    Revoke(GrantRef, Result<(), RevokeError>),
}

/// Why a fake backend could not map a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No such grant.
    NoSuchGrant,
    /// The grant is for another domain.
    WrongDomain,
    /// Writable mapping of a read-only grant.
    ReadOnly,
}

#[derive(Debug)]
struct Entry {
    dom: DomId,
    pfn: Pfn,
    readonly: bool,
    maps: u32,
}

#[derive(Debug)]
struct State {
    capacity: u32,
    next: u32,
    free: Vec<u32>,
    entries: BTreeMap<u32, Entry>,
    calls: Vec<GrantCall>,
}

/// Number of reserved grant entries (`GNTTAB_NR_RESERVED_ENTRIES`): refs below this are never handed out.
pub const RESERVED_ENTRIES: u32 = 8;

/// A fake grant table over [`FakeMemory`]. Clones share the table: give one to the driver
/// (as [`GrantTable`]) and keep one for the fake backend ([`FakeGrantTable::map`]).
#[derive(Clone, Debug)]
pub struct FakeGrantTable {
    inner: Arc<Mutex<State>>,
    memory: FakeMemory,
}

impl FakeGrantTable {
    /// A table with `capacity` usable entries over `memory`.
    pub fn new(memory: FakeMemory, capacity: u32) -> FakeGrantTable {
        FakeGrantTable {
            inner: Arc::new(Mutex::new(State {
                capacity,
                next: RESERVED_ENTRIES,
                free: Vec::new(),
                entries: BTreeMap::new(),
                calls: Vec::new(),
            })),
            memory,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call the driver made, in order.
    pub fn calls(&self) -> Vec<GrantCall> {
        self.lock().calls.clone()
    }

    /// Grants currently active.
    pub fn active(&self) -> usize {
        self.lock().entries.len()
    }

    /// Backend side: map grant `gref` as domain `dom`. Returns the granted page.
    pub fn map(&self, dom: DomId, gref: GrantRef, writable: bool) -> Result<FakePage, MapError> {
        let mut s = self.lock();
        let e = s.entries.get_mut(&gref.0).ok_or(MapError::NoSuchGrant)?;
        if e.dom != dom {
            return Err(MapError::WrongDomain);
        }
        if writable && e.readonly {
            return Err(MapError::ReadOnly);
        }
        let page = self.memory.page(e.pfn).ok_or(MapError::NoSuchGrant)?;
        e.maps += 1;
        Ok(page)
    }

    /// Backend side: unmap one mapping of `gref`.
    pub fn unmap(&self, gref: GrantRef) {
        if let Some(e) = self.lock().entries.get_mut(&gref.0) {
            e.maps = e.maps.saturating_sub(1);
        }
    }
}

impl GrantTable for FakeGrantTable {
    fn grant(&mut self, dom: DomId, frame: Pfn, readonly: bool) -> Result<GrantRef, GrantError> {
        let exists = self.memory.page(frame).is_some();
        let mut s = self.lock();
        let r = (|| {
            if !dom.is_real() {
                return Err(GrantError::InvalidDomain);
            }
            if !exists {
                return Err(GrantError::InvalidFrame);
            }
            let r = match s.free.pop() {
                Some(r) => r,
                None if s.next < RESERVED_ENTRIES + s.capacity => {
                    s.next += 1;
                    s.next - 1
                }
                None => return Err(GrantError::Exhausted),
            };
            s.entries.insert(
                r,
                Entry {
                    dom,
                    pfn: frame,
                    readonly,
                    maps: 0,
                },
            );
            Ok(GrantRef(r))
        })();
        s.calls.push(GrantCall::Grant(dom, frame, readonly, r));
        r
    }

    fn revoke(&mut self, gref: GrantRef) -> Result<(), RevokeError> {
        let mut s = self.lock();
        let r = match s.entries.get(&gref.0) {
            None => Err(RevokeError::InvalidRef),
            Some(e) if e.maps > 0 => Err(RevokeError::StillInUse),
            Some(_) => {
                s.entries.remove(&gref.0);
                s.free.push(gref.0);
                Ok(())
            }
        };
        s.calls.push(GrantCall::Revoke(gref, r));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_traits::SharedPage;

    #[test]
    fn grant_map_revoke() {
        let mem = FakeMemory::new();
        let (pfn, page) = mem.alloc_page();
        let mut gt = FakeGrantTable::new(mem.clone(), 2);
        let backend = gt.clone();
        let r = gt.grant(DomId(0), pfn, false).unwrap();
        assert!(r.0 >= RESERVED_ENTRIES);
        let mapped = backend.map(DomId(0), r, true).unwrap();
        mapped.write_u32(0, 42);
        assert_eq!(page.read_u32(0), 42);
        assert_eq!(
            backend.map(DomId(3), r, false).err(),
            Some(MapError::WrongDomain)
        );
        assert_eq!(gt.revoke(r), Err(RevokeError::StillInUse));
        backend.unmap(r);
        assert_eq!(gt.revoke(r), Ok(()));
        assert_eq!(gt.revoke(r), Err(RevokeError::InvalidRef));
        assert_eq!(
            gt.grant(DomId(0), Pfn(1), false),
            Err(GrantError::InvalidFrame)
        );
        assert_eq!(
            gt.grant(DomId::SELF, pfn, false),
            Err(GrantError::InvalidDomain)
        );
        let ro = gt.grant(DomId(0), pfn, true).unwrap();
        assert_eq!(
            backend.map(DomId(0), ro, true).err(),
            Some(MapError::ReadOnly)
        );
        gt.grant(DomId(0), pfn, true).unwrap();
        assert_eq!(gt.grant(DomId(0), pfn, true), Err(GrantError::Exhausted));
        assert_eq!(gt.calls().len(), 9);
    }
}
