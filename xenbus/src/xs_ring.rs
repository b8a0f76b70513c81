//! The xenstore ring transport: `struct xenstore_domain_interface` of `io/xs_wire.h`.
//!
//! Two 1024-byte byte rings share one page: `req[]` (we produce, xenstored consumes) and `rsp[]`
//! (xenstored produces, we consume). Indices are free-running `u32`s, masked with
//! `XENSTORE_RING_SIZE - 1` to find the byte. A difference `prod - cons` above the ring size is impossible
//! for a well-behaved peer and marks the connection [`Broken`].
//!
//! We keep private copies of the indices we own (`req_prod`, `rsp_cons`) and never re-read them from the
//! page; the peer's indices are read once per operation, checked, then used.

use xen_traits::SharedPage;

use crate::error::Broken;

/// Size of each of the two byte rings (`XENSTORE_RING_SIZE`).
pub const XENSTORE_RING_SIZE: u32 = 1024;

/// `MASK_XENSTORE_IDX`.
pub const fn mask_xenstore_idx(idx: u32) -> u32 {
    idx & (XENSTORE_RING_SIZE - 1)
}

/// Byte offsets of `struct xenstore_domain_interface` (checked against the C header by a host test).
pub mod layout {
    /// `char req[XENSTORE_RING_SIZE]`
    pub const REQ: usize = 0;
    /// `char rsp[XENSTORE_RING_SIZE]`
    pub const RSP: usize = 1024;
    /// `XENSTORE_RING_IDX req_cons`
    pub const REQ_CONS: usize = 2048;
    /// `XENSTORE_RING_IDX req_prod`
    pub const REQ_PROD: usize = 2052;
    /// `XENSTORE_RING_IDX rsp_cons`
    pub const RSP_CONS: usize = 2056;
    /// `XENSTORE_RING_IDX rsp_prod`
    pub const RSP_PROD: usize = 2060;
    /// `uint32_t server_features`
    pub const SERVER_FEATURES: usize = 2064;
    /// `uint32_t connection`
    pub const CONNECTION: usize = 2068;
    /// `uint32_t error`
    pub const ERROR: usize = 2072;
    /// `sizeof(struct xenstore_domain_interface)`
    pub const SIZE: usize = 2076;
}

/// `XENSTORE_SERVER_FEATURE_RECONNECTION`
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
/// `XENSTORE_SERVER_FEATURE_ERROR`
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;
/// `XENSTORE_CONNECTED`
pub const XENSTORE_CONNECTED: u32 = 0;
/// `XENSTORE_RECONNECT`
pub const XENSTORE_RECONNECT: u32 = 1;

/// Client side of the xenstore ring page.
#[derive(Debug)]
pub struct XsRing<P> {
    page: P,
    req_prod: u32,
    rsp_cons: u32,
    broken: Option<Broken>,
}

impl<P: SharedPage> XsRing<P> {
    /// Attach to a ring page, continuing from the indices it holds (they are 0 on a fresh domain).
    pub fn attach(page: P) -> XsRing<P> {
        let req_prod = page.read_u32(layout::REQ_PROD);
        let rsp_cons = page.read_u32(layout::RSP_CONS);
        XsRing {
            page,
            req_prod,
            rsp_cons,
            broken: None,
        }
    }

    /// The page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Our producer index on `req[]`.
    pub fn req_prod(&self) -> u32 {
        self.req_prod
    }

    /// Our consumer index on `rsp[]`.
    pub fn rsp_cons(&self) -> u32 {
        self.rsp_cons
    }

    /// Why the ring is broken, if it is.
    pub fn broken(&self) -> Option<Broken> {
        self.broken
    }

    /// The `server_features` word.
    pub fn server_features(&self) -> u32 {
        self.page.read_u32(layout::SERVER_FEATURES)
    }

    /// Mark the connection broken (a framing violation found above the ring). Sticky.
    pub fn mark_broken(&mut self, why: Broken) {
        self.fail(why);
    }

    fn fail(&mut self, why: Broken) -> Broken {
        if self.broken.is_none() {
            log::error!("xenstore ring broken: {why:?}");
            self.broken = Some(why);
        }
        why
    }

    /// Check the daemon's `req_cons` against our producer (done on every pump, so a jump is noticed even
    /// when we have nothing to send).
    pub fn check_request_index(&mut self) -> Result<(), Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        let cons = self.page.load_acquire_u32(layout::REQ_CONS);
        let prod = self.req_prod;
        if prod.wrapping_sub(cons) > XENSTORE_RING_SIZE {
            return Err(self.fail(Broken::RequestIndex { prod, cons }));
        }
        Ok(())
    }

    /// Copy as much of `data` as fits into `req[]` and publish it. Returns the bytes written (0 when full).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        let cons = self.page.load_acquire_u32(layout::REQ_CONS);
        let mut prod = self.req_prod;
        if prod.wrapping_sub(cons) > XENSTORE_RING_SIZE {
            return Err(self.fail(Broken::RequestIndex { prod, cons }));
        }
        // Write the data only after reading the consumer index (xs_wire/Linux `xb_write`: mb()).
        self.page.fence_full();
        let mut written = 0usize;
        while written < data.len() {
            let free = XENSTORE_RING_SIZE - prod.wrapping_sub(cons);
            if free == 0 {
                break;
            }
            let off = mask_xenstore_idx(prod);
            let chunk = (free.min(XENSTORE_RING_SIZE - off) as usize).min(data.len() - written);
            self.page
                .write_bytes(layout::REQ + off as usize, &data[written..written + chunk]);
            written += chunk;
            prod = prod.wrapping_add(chunk as u32);
        }
        if written > 0 {
            // The daemon must see the bytes before the new producer index.
            self.page.fence_write();
            self.page.store_release_u32(layout::REQ_PROD, prod);
            self.req_prod = prod;
        }
        Ok(written)
    }

    /// Number of reply bytes waiting in `rsp[]` (checked).
    pub fn readable(&mut self) -> Result<u32, Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        let prod = self.page.load_acquire_u32(layout::RSP_PROD);
        let cons = self.rsp_cons;
        let avail = prod.wrapping_sub(cons);
        if avail > XENSTORE_RING_SIZE {
            return Err(self.fail(Broken::ResponseIndex { prod, cons }));
        }
        Ok(avail)
    }

    /// Copy up to `buf.len()` reply bytes out of `rsp[]` and release their space. Returns the count.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Broken> {
        let avail = self.readable()?;
        let n = (avail as usize).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        // Read the data only after reading the producer index.
        self.page.fence_read();
        let mut cons = self.rsp_cons;
        let mut done = 0usize;
        while done < n {
            let off = mask_xenstore_idx(cons);
            let chunk = ((XENSTORE_RING_SIZE - off) as usize).min(n - done);
            self.page
                .read_bytes(layout::RSP + off as usize, &mut buf[done..done + chunk]);
            done += chunk;
            cons = cons.wrapping_add(chunk as u32);
        }
        // The daemon must not see the space as free before we copied the bytes out.
        self.page.fence_full();
        self.page.store_release_u32(layout::RSP_CONS, cons);
        self.rsp_cons = cons;
        Ok(n)
    }
}
