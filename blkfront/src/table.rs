//! The in-flight table: one slot per submitted request, owning its bounce pages, indirect pages and
//! their grants until the request is finished. Wire ids are `generation << 32 | slot`, so a stale or
//! duplicated response for a reused slot is recognised and rejected.

use alloc::vec::Vec;
use core::task::Waker;

use xen_traits::{GrantRef, Pfn};

use crate::error::{Broken, IoError};

/// The handle of a submitted request (also its wire `id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The value sent as the request's `id`.
    pub fn wire(self) -> u64 {
        self.0
    }
    fn slot(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// A page the driver owns, maybe granted to the backend.
#[derive(Debug)]
pub(crate) struct Buf<P> {
    pub page: P,
    pub pfn: Pfn,
    /// `Some` while granted (revoke pending or failed with `StillInUse`).
    pub gref: Option<GrantRef>,
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Read into bounce pages.
    Read,
    /// Write from bounce pages.
    Write,
    /// Flush the backend's cache (or a barrier).
    Flush,
    /// Discard a range.
    Discard,
}

#[derive(Debug)]
pub(crate) struct Req<P> {
    pub kind: Kind,
    /// The `operation` the response must carry.
    pub op: u8,
    /// A second acceptable `operation` (indirect requests: `BLKIF_OP_INDIRECT` or the inner op).
    pub alt_op: Option<u8>,
    /// Bytes transferred (reads and writes).
    pub len: usize,
    pub data: Vec<Buf<P>>,
    pub indirect: Vec<Buf<P>>,
    pub waker: Option<Waker>,
    /// The submitter lost interest: release the slot as soon as the response arrives.
    pub abandoned: bool,
    /// `None` while in flight.
    pub outcome: Option<Result<(), IoError>>,
}

#[derive(Debug)]
enum Slot<P> {
    Free,
    Busy(Req<P>),
}

/// Why a response's id was rejected.
fn bad(id: u64, known_slot: bool) -> Broken {
    if known_slot {
        Broken::NotInFlight(id)
    } else {
        Broken::UnknownId(id)
    }
}

#[derive(Debug)]
pub(crate) struct Table<P> {
    slots: Vec<(u32, Slot<P>)>,
    free: Vec<usize>,
}

impl<P> Table<P> {
    pub fn new() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Take a slot for `req`.
    pub fn insert(&mut self, req: Req<P>) -> RequestId {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, Slot::Free));
                self.slots.len() - 1
            }
        };
        let (gen, slot) = &mut self.slots[idx];
        *gen = gen.wrapping_add(1).max(1);
        *slot = Slot::Busy(req);
        RequestId((u64::from(*gen) << 32) | idx as u64)
    }

    /// The request of `id`, whatever its state.
    pub fn get_mut(&mut self, id: RequestId) -> Option<&mut Req<P>> {
        match self.slots.get_mut(id.slot()) {
            Some((g, Slot::Busy(r))) if *g == id.generation() => Some(r),
            _ => None,
        }
    }

    /// The in-flight request a response's `wire_id` names; anything else breaks the device.
    pub fn in_flight(&mut self, wire_id: u64) -> Result<(RequestId, &mut Req<P>), Broken> {
        let id = RequestId(wire_id);
        let known = id.slot() < self.slots.len();
        match self.get_mut(id) {
            Some(r) if r.outcome.is_none() => Ok((id, r)),
            _ => Err(bad(wire_id, known)),
        }
    }

    /// Free the slot of `id`, returning its request.
    pub fn remove(&mut self, id: RequestId) -> Option<Req<P>> {
        self.get_mut(id)?;
        let (_, slot) = &mut self.slots[id.slot()];
        let Slot::Busy(r) = core::mem::replace(slot, Slot::Free) else {
            return None;
        };
        self.free.push(id.slot());
        Some(r)
    }

    /// Every request still waiting for its response.
    pub fn pending_mut(&mut self) -> impl Iterator<Item = (RequestId, &mut Req<P>)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, (g, s))| match s {
                Slot::Busy(r) if r.outcome.is_none() => {
                    Some((RequestId((u64::from(*g) << 32) | i as u64), r))
                }
                _ => None,
            })
    }

    /// Ids of every request submitted and not finished.
    pub fn ids(&self) -> Vec<RequestId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| matches!(s, Slot::Busy(_)))
            .map(|(i, (g, _))| RequestId((u64::from(*g) << 32) | i as u64))
            .collect()
    }

    /// Number of requests still waiting for their response.
    pub fn pending(&self) -> usize {
        self.slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Busy(r) if r.outcome.is_none()))
            .count()
    }

    /// Requests submitted and not finished (in flight or completed).
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
