//! The generic shared ring of `io/ring.h`, front side (`FRONT_RING`).
//!
//! Page layout (`struct __name##_sring`): `req_prod`, `req_event`, `rsp_prod`, `rsp_event` (4 × u32),
//! 4 bytes `pvt`, 44 bytes padding, then the entries — each a union of request and response, so
//! `max(size)` rounded up to the larger alignment. The number of entries is rounded down to a power of two
//! (`__RD32`). Indices are free-running `u32`s masked with `nr_ents - 1`.
//!
//! Entries are copied in and out whole through [`SharedPage`] ([`RingEntry`]), never referenced. The
//! backend's `rsp_prod` is read once per check and must not claim more responses than requests we
//! published ([`RingError::ResponseOverflow`]); the error is sticky.

use core::marker::PhantomData;

use xen_traits::SharedPage;

/// Byte offsets of the shared ring header.
pub mod layout {
    /// `RING_IDX req_prod`
    pub const REQ_PROD: usize = 0;
    /// `RING_IDX req_event`
    pub const REQ_EVENT: usize = 4;
    /// `RING_IDX rsp_prod`
    pub const RSP_PROD: usize = 8;
    /// `RING_IDX rsp_event`
    pub const RSP_EVENT: usize = 12;
    /// `pvt` (4 bytes: `netif.smartpoll_active`, `tapif_user.msg`, `pvt_pad`)
    pub const PVT: usize = 16;
    /// `__pad[44]`
    pub const PAD: usize = 20;
    /// `ring[]`: the first entry.
    pub const RING: usize = 64;
}

/// Largest entry this implementation copies (entries go through a stack buffer of this size).
pub const MAX_ENTRY_SIZE: usize = 512;

/// A request or response type of a ring: its C size and alignment, and its byte encoding.
///
/// `encode`/`decode` work on a local buffer of exactly `SIZE` bytes that the ring copies to or from shared
/// memory in one go, so decoding sees one consistent snapshot. Decoding cannot fail: validation of the
/// values (ids, lengths) belongs to the driver, which owns the in-flight table.
pub trait RingEntry: Sized {
    /// `sizeof` the C struct (including its tail padding).
    const SIZE: usize;
    /// `alignof` the C struct.
    const ALIGN: usize = 4;
    /// Write the entry into `out` (`out.len() == SIZE`).
    fn encode(&self, out: &mut [u8]);
    /// Read an entry from `src` (`src.len() == SIZE`).
    fn decode(src: &[u8]) -> Self;
}

/// `__RD32`: round down to a power of two (0 stays 0).
pub const fn round_down_pow2(x: u32) -> u32 {
    if x == 0 {
        0
    } else {
        1 << (31 - x.leading_zeros())
    }
}

/// Size of one ring slot: the union of request and response.
pub const fn entry_size(
    req_size: usize,
    req_align: usize,
    rsp_size: usize,
    rsp_align: usize,
) -> usize {
    let size = if req_size > rsp_size {
        req_size
    } else {
        rsp_size
    };
    let align = if req_align > rsp_align {
        req_align
    } else {
        rsp_align
    };
    size.div_ceil(align) * align
}

/// `__CONST_RING_SIZE`: the number of entries of a ring in `bytes` bytes of shared memory.
pub const fn ring_size(bytes: usize, entry_size: usize) -> u32 {
    if bytes <= layout::RING || entry_size == 0 {
        return 0;
    }
    let n = (bytes - layout::RING) / entry_size;
    let n = if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    };
    round_down_pow2(n)
}

/// Why a ring operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// No free slot: wait for responses.
    Full,
    /// The backend's `rsp_prod` claims responses to requests we never published. Sticky.
    ResponseOverflow {
        /// The backend's `rsp_prod`.
        rsp_prod: u32,
        /// Our `rsp_cons`.
        rsp_cons: u32,
        /// Our published `req_prod`.
        req_prod: u32,
    },
    /// Entry types too large for [`MAX_ENTRY_SIZE`], or shared memory too small for one entry.
    BadGeometry,
}

/// The front end of a shared ring over `P`, sending `Req` and receiving `Rsp`.
#[derive(Debug)]
pub struct FrontRing<P, Req, Rsp> {
    page: P,
    req_prod_pvt: u32,
    req_prod_published: u32,
    rsp_cons: u32,
    nr_ents: u32,
    entry_size: usize,
    broken: Option<RingError>,
    _types: PhantomData<fn(Req) -> Rsp>,
}

impl<P: SharedPage, Req: RingEntry, Rsp: RingEntry> FrontRing<P, Req, Rsp> {
    /// The slot size for these entry types.
    pub const ENTRY_SIZE: usize = entry_size(Req::SIZE, Req::ALIGN, Rsp::SIZE, Rsp::ALIGN);

    /// `XEN_FRONT_RING_INIT`: initialise the shared header (`SHARED_RING_INIT`) and attach at index 0.
    pub fn init(page: P) -> Result<Self, RingError> {
        let r = Self::attach(page, 0)?;
        r.page.write_u32(layout::REQ_PROD, 0);
        r.page.write_u32(layout::RSP_PROD, 0);
        r.page.write_u32(layout::REQ_EVENT, 1);
        r.page.write_u32(layout::RSP_EVENT, 1);
        r.page
            .write_bytes(layout::PVT, &[0u8; layout::RING - layout::PVT]);
        r.page.fence_write();
        Ok(r)
    }

    /// `FRONT_RING_ATTACH`: attach to an already-initialised ring at index `start` (resume).
    pub fn attach(page: P, start: u32) -> Result<Self, RingError> {
        let entry_size = Self::ENTRY_SIZE;
        if Req::SIZE > MAX_ENTRY_SIZE
            || Rsp::SIZE > MAX_ENTRY_SIZE
            || Req::SIZE == 0
            || Rsp::SIZE == 0
        {
            return Err(RingError::BadGeometry);
        }
        let nr_ents = ring_size(page.size(), entry_size);
        if nr_ents == 0 {
            return Err(RingError::BadGeometry);
        }
        Ok(FrontRing {
            page,
            req_prod_pvt: start,
            req_prod_published: start,
            rsp_cons: start,
            nr_ents,
            entry_size,
            broken: None,
            _types: PhantomData,
        })
    }

    /// `RING_SIZE`: number of slots.
    pub fn size(&self) -> u32 {
        self.nr_ents
    }

    /// The shared memory.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Private producer index (requests written, published or not).
    pub fn req_prod_pvt(&self) -> u32 {
        self.req_prod_pvt
    }

    /// Consumer index of responses.
    pub fn rsp_cons(&self) -> u32 {
        self.rsp_cons
    }

    /// The sticky error, if the backend misbehaved.
    pub fn broken(&self) -> Option<RingError> {
        self.broken
    }

    /// `RING_FREE_REQUESTS`.
    pub fn free_requests(&self) -> u32 {
        self.nr_ents - self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// `RING_FULL`.
    pub fn is_full(&self) -> bool {
        self.free_requests() == 0
    }

    fn slot_offset(&self, idx: u32) -> usize {
        layout::RING + (idx & (self.nr_ents - 1)) as usize * self.entry_size
    }

    /// Write `req` into the next slot (`RING_GET_REQUEST(req_prod_pvt++)`). Not visible to the backend
    /// until [`FrontRing::push_requests_and_check_notify`].
    pub fn put_request(&mut self, req: &Req) -> Result<(), RingError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        if self.is_full() {
            return Err(RingError::Full);
        }
        let mut buf = [0u8; MAX_ENTRY_SIZE];
        let buf = &mut buf[..Req::SIZE];
        req.encode(buf);
        self.page
            .write_bytes(self.slot_offset(self.req_prod_pvt), buf);
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: publish the written requests; true if the backend asked to be
    /// notified (its `req_event` lies in the range just published).
    pub fn push_requests_and_check_notify(&mut self) -> bool {
        let old = self.req_prod_published;
        let new = self.req_prod_pvt;
        // Backend sees requests before the updated producer index.
        self.page.fence_write();
        self.page.store_release_u32(layout::REQ_PROD, new);
        self.req_prod_published = new;
        // Backend sees the new requests before we check req_event.
        self.page.fence_full();
        let req_event = self.page.read_u32(layout::REQ_EVENT);
        new.wrapping_sub(req_event) < new.wrapping_sub(old)
    }

    /// Read `rsp_prod` once and check it: at most as many responses as requests published.
    fn checked_rsp_prod(&mut self) -> Result<u32, RingError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        let rsp_prod = self.page.load_acquire_u32(layout::RSP_PROD);
        let unconsumed = rsp_prod.wrapping_sub(self.rsp_cons);
        let outstanding = self.req_prod_published.wrapping_sub(self.rsp_cons);
        if unconsumed > outstanding {
            let e = RingError::ResponseOverflow {
                rsp_prod,
                rsp_cons: self.rsp_cons,
                req_prod: self.req_prod_published,
            };
            log::error!("ring: backend response index overflow: {e:?}");
            self.broken = Some(e);
            return Err(e);
        }
        Ok(rsp_prod)
    }

    /// `RING_HAS_UNCONSUMED_RESPONSES` (checked).
    pub fn unconsumed_responses(&mut self) -> Result<u32, RingError> {
        let prod = self.checked_rsp_prod()?;
        Ok(prod.wrapping_sub(self.rsp_cons))
    }

    /// Take the next response, if one is there (`RING_COPY_RESPONSE(rsp_cons++)`).
    pub fn take_response(&mut self) -> Result<Option<Rsp>, RingError> {
        let prod = self.checked_rsp_prod()?;
        if prod == self.rsp_cons {
            return Ok(None);
        }
        // Read the entry only after reading the producer index.
        self.page.fence_read();
        let mut buf = [0u8; MAX_ENTRY_SIZE];
        let buf = &mut buf[..Rsp::SIZE];
        self.page.read_bytes(self.slot_offset(self.rsp_cons), buf);
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(Some(Rsp::decode(buf)))
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: true if responses are waiting; otherwise ask the backend to notify
    /// us for the next one (`rsp_event = rsp_cons + 1`) and check again, closing the race.
    pub fn final_check_for_responses(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_responses()? > 0 {
            return Ok(true);
        }
        self.page
            .write_u32(layout::RSP_EVENT, self.rsp_cons.wrapping_add(1));
        self.page.fence_full();
        Ok(self.unconsumed_responses()? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rd32_matches_c_macro() {
        // The C macro, transcribed.
        fn rd2(x: u32) -> u32 {
            if x & 2 != 0 {
                2
            } else {
                x & 1
            }
        }
        fn rd4(x: u32) -> u32 {
            if x & 0xc != 0 {
                rd2(x >> 2) << 2
            } else {
                rd2(x)
            }
        }
        fn rd8(x: u32) -> u32 {
            if x & 0xf0 != 0 {
                rd4(x >> 4) << 4
            } else {
                rd4(x)
            }
        }
        fn rd16(x: u32) -> u32 {
            if x & 0xff00 != 0 {
                rd8(x >> 8) << 8
            } else {
                rd8(x)
            }
        }
        fn rd32(x: u32) -> u32 {
            if x & 0xffff_0000 != 0 {
                rd16(x >> 16) << 16
            } else {
                rd16(x)
            }
        }
        for x in (0..70_000u32).chain([u32::MAX, u32::MAX - 1, 1 << 31, (1 << 31) + 5]) {
            assert_eq!(round_down_pow2(x), rd32(x), "x = {x}");
        }
    }

    #[test]
    fn known_ring_sizes() {
        // netif tx: req 12 bytes, rsp 4 bytes → 256 entries in a page (as in Linux NET_TX_RING_SIZE).
        assert_eq!(ring_size(4096, entry_size(12, 4, 4, 2)), 256);
        // netif rx: req 8, rsp 8 → 256.
        assert_eq!(ring_size(4096, entry_size(8, 4, 8, 2)), 256);
        // blkif: req 112 (align 8), rsp 16 → 32 (BLK_RING_SIZE).
        assert_eq!(ring_size(4096, entry_size(112, 8, 16, 8)), 32);
        // union padding: 12-byte req with 8-aligned 8-byte rsp → 16-byte slots.
        assert_eq!(entry_size(12, 4, 8, 8), 16);
        assert_eq!(ring_size(64, 8), 0);
        assert_eq!(ring_size(4096 * 4, 112), 128);
    }
}
