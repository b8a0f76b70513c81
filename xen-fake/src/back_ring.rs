//! The back end of an `io/ring.h` shared ring (`BACK_RING`), for fake backends (netback, blkback…).
//!
//! Written independently of `xenbus::front_ring` (it shares only the layout constants and the
//! [`RingEntry`] encoding), so a bug on one side is not silently mirrored on the other. Hostile helpers
//! let a test publish any producer index it likes.

use std::marker::PhantomData;

use xen_traits::SharedPage;
use xenbus::front_ring::{entry_size, layout, ring_size, RingEntry};

/// A frontend published more requests than the ring holds (`RING_REQUEST_PROD_OVERFLOW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestOverflow {
    /// The frontend's `req_prod`.
    pub req_prod: u32,
    /// Our `rsp_prod_pvt`.
    pub rsp_prod_pvt: u32,
}

/// Every request taken already has its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRequestToAnswer;

/// Back side of a shared ring over `P`: receives `Req`, sends `Rsp`.
#[derive(Debug)]
pub struct BackRing<P, Req, Rsp> {
    page: P,
    rsp_prod_pvt: u32,
    req_cons: u32,
    nr_ents: u32,
    slot: usize,
    _t: PhantomData<fn(Req) -> Rsp>,
}

impl<P: SharedPage, Req: RingEntry, Rsp: RingEntry> BackRing<P, Req, Rsp> {
    /// `BACK_RING_ATTACH` at index `start`.
    pub fn attach(page: P, start: u32) -> Self {
        let slot = entry_size(Req::SIZE, Req::ALIGN, Rsp::SIZE, Rsp::ALIGN);
        let nr_ents = ring_size(page.size(), slot);
        assert!(nr_ents > 0, "ring memory too small");
        BackRing {
            page,
            rsp_prod_pvt: start,
            req_cons: start,
            nr_ents,
            slot,
            _t: PhantomData,
        }
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.nr_ents
    }

    /// The shared memory.
    pub fn page(&self) -> &P {
        &self.page
    }

    fn offset(&self, idx: u32) -> usize {
        layout::RING + (idx % self.nr_ents) as usize * self.slot
    }

    /// Take the next request the frontend published, if any.
    pub fn take_request(&mut self) -> Result<Option<Req>, RequestOverflow> {
        let req_prod = self.page.load_acquire_u32(layout::REQ_PROD);
        if req_prod.wrapping_sub(self.rsp_prod_pvt) > self.nr_ents {
            return Err(RequestOverflow {
                req_prod,
                rsp_prod_pvt: self.rsp_prod_pvt,
            });
        }
        if req_prod == self.req_cons
            || self.req_cons.wrapping_sub(self.rsp_prod_pvt) >= self.nr_ents
        {
            return Ok(None);
        }
        self.page.fence_read();
        let mut buf = vec![0u8; Req::SIZE];
        self.page.read_bytes(self.offset(self.req_cons), &mut buf);
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(Req::decode(&buf)))
    }

    /// Write a response into the next slot (not yet published). Fails if every taken request already has
    /// its response.
    pub fn put_response(&mut self, rsp: &Rsp) -> Result<(), NoRequestToAnswer> {
        if self.rsp_prod_pvt == self.req_cons {
            return Err(NoRequestToAnswer);
        }
        let mut buf = vec![0u8; Rsp::SIZE];
        rsp.encode(&mut buf);
        self.page.write_bytes(self.offset(self.rsp_prod_pvt), &buf);
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`.
    pub fn push_responses_and_check_notify(&mut self) -> bool {
        let old = self.page.read_u32(layout::RSP_PROD);
        let new = self.rsp_prod_pvt;
        self.page.fence_write();
        self.page.store_release_u32(layout::RSP_PROD, new);
        self.page.fence_full();
        let ev = self.page.read_u32(layout::RSP_EVENT);
        new.wrapping_sub(ev) < new.wrapping_sub(old)
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`.
    pub fn final_check_for_requests(&mut self) -> bool {
        let pending = |s: &Self| s.page.load_acquire_u32(layout::REQ_PROD) != s.req_cons;
        if pending(self) {
            return true;
        }
        self.page
            .write_u32(layout::REQ_EVENT, self.req_cons.wrapping_add(1));
        self.page.fence_full();
        pending(self)
    }

    /// Hostile: publish an arbitrary `rsp_prod`.
    pub fn publish_raw_rsp_prod(&self, rsp_prod: u32) {
        self.page.fence_write();
        self.page.store_release_u32(layout::RSP_PROD, rsp_prod);
    }

    /// Hostile: write raw bytes into the slot of index `idx` (e.g. a response with a bogus id).
    pub fn write_raw_slot(&self, idx: u32, bytes: &[u8]) {
        let n = bytes.len().min(self.slot);
        self.page.write_bytes(self.offset(idx), &bytes[..n]);
    }
}
