//! The datapath: submit requests on the ring, validate responses, own grants and bounce pages until
//! the backend is done with them.
//!
//! Poll-driven: [`BlkFront::submit`] puts a request on the ring and returns its [`RequestId`]
//! ([`BlkFront::submit_deferred`] + [`BlkFront::kick`] batch several behind one notification);
//! [`BlkFront::handle_event`] (call it whenever the event channel fires) consumes responses;
//! [`BlkFront::poll_request`] / [`BlkFront::finish`] / [`BlkFront::finish_read`] report outcomes. An
//! async block device wraps these with one future per request (the waker is stored in the slot).
//!
//! Trust: each response is copied out of the ring once, then its id must name an in-flight slot of the
//! right generation and its operation must be the request's; anything else fails that request (when it
//! can be identified) and breaks the device, failing every request in flight. No response can make the
//! driver panic. Data only ever travels through dedicated bounce pages: a caller's buffer is never
//! granted. A page is reused only after its grant was revoked; a revoke refused with `StillInUse` keeps
//! the page reserved (retried on every event).

use alloc::vec::Vec;
use core::task::{Poll, Waker};

use xen_traits::{
    DomId, EventChannels, GrantRef, GrantTable, Port, RevokeError, SharedPage, PAGE_SIZE,
};
use xenbus::{FrontRing, Frontend};

use crate::error::{Broken, IoError, SubmitError};
use crate::info::{DiskInfo, FlushMode};
use crate::pages::Pages;
use crate::table::{Buf, Kind, Req, RequestId, Table};
use crate::wire::{self, ring, RequestRepr, Segment, MAX_SEGMENTS_PER_REQUEST, WIRE_SECTOR};

/// The blkif ring over the allocator's pages.
pub type BlkRing<P> = FrontRing<P, ring::Request, ring::Response>;

/// Free bounce pages kept for reuse; beyond this they go back to the allocator.
pub const POOL_MAX: usize = 512;

/// One operation to submit. LBAs and counts are in logical sectors ([`BlkFront::sector_size`] bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Read `len` bytes at `lba` (fetch them with [`BlkFront::finish_read`]).
    Read {
        /// First logical sector.
        lba: u64,
        /// Bytes, a multiple of the sector size.
        len: usize,
    },
    /// Write `data` at `lba` (copied into bounce pages at submission).
    Write {
        /// First logical sector.
        lba: u64,
        /// Bytes, a multiple of the sector size.
        data: &'a [u8],
    },
    /// Make every completed write durable.
    Flush,
    /// Discard `count` sectors at `lba`.
    Discard {
        /// First logical sector.
        lba: u64,
        /// Logical sectors.
        count: u64,
    },
}

/// Counters for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests put on the ring.
    pub submitted: u64,
    /// Responses accepted.
    pub completed: u64,
    /// Requests that used `BLKIF_OP_INDIRECT`.
    pub indirect: u64,
    /// Event-channel notifications sent.
    pub notifies: u64,
    /// Revokes refused with `StillInUse` (each retry counts).
    pub revoke_busy: u64,
}

/// The parts [`crate::negotiate::connect`] hands over to the datapath.
#[derive(Debug)]
pub struct Parts<G, E, A: Pages> {
    /// The initialised ring.
    pub ring: BlkRing<A::Page>,
    /// Frames and grants of the ring pages.
    pub ring_frames: Vec<xen_traits::Pfn>,
    /// Grants of the ring pages, in page order.
    pub ring_grefs: Vec<GrantRef>,
    /// Grant table.
    pub gnt: G,
    /// Event channels.
    pub evtchn: E,
    /// Our port.
    pub port: Port,
    /// Page allocator.
    pub pages: A,
    /// The backend domain.
    pub backend: DomId,
    /// `handle` for requests (the virtual device number).
    pub handle: u16,
    /// What the backend told us.
    pub info: DiskInfo,
    /// Our cap on indirect segments.
    pub max_indirect_segments: u32,
    /// The xenbus node pair (for disconnecting).
    pub frontend: Frontend,
}

/// A connected block frontend. See the [module docs](self).
#[derive(Debug)]
pub struct BlkFront<G, E, A: Pages> {
    ring: BlkRing<A::Page>,
    ring_frames: Vec<xen_traits::Pfn>,
    ring_grefs: Vec<GrantRef>,
    gnt: G,
    evtchn: E,
    port: Port,
    pages: A,
    backend: DomId,
    handle: u16,
    info: DiskInfo,
    /// Segments per request (11, or the indirect limit).
    max_segments: usize,
    table: Table<A::Page>,
    pool: Vec<Buf<A::Page>>,
    /// Granted pages whose revoke was refused: reserved until a retry succeeds.
    held: Vec<Buf<A::Page>>,
    broken: Option<Broken>,
    stats: Stats,
    /// Wakers of requests completed since the caller last collected them.
    woken: Vec<Waker>,
    frontend: Frontend,
}

impl<G: GrantTable, E: EventChannels, A: Pages> BlkFront<G, E, A> {
    /// Assemble a connected device.
    pub fn from_parts(p: Parts<G, E, A>) -> Self {
        let indirect = p.info.max_indirect_segments.min(p.max_indirect_segments) as usize;
        let indirect =
            indirect.min(wire::SEGMENTS_PER_INDIRECT_FRAME * wire::MAX_INDIRECT_PAGES_PER_REQUEST);
        BlkFront {
            ring: p.ring,
            ring_frames: p.ring_frames,
            ring_grefs: p.ring_grefs,
            gnt: p.gnt,
            evtchn: p.evtchn,
            port: p.port,
            pages: p.pages,
            backend: p.backend,
            handle: p.handle,
            info: p.info,
            max_segments: indirect.max(MAX_SEGMENTS_PER_REQUEST),
            table: Table::new(),
            pool: Vec::new(),
            held: Vec::new(),
            broken: None,
            stats: Stats::default(),
            woken: Vec::new(),
            frontend: p.frontend,
        }
    }

    // ---- properties -----------------------------------------------------------------------------

    /// Number of logical sectors.
    pub fn capacity(&self) -> u64 {
        self.info.capacity()
    }
    /// Logical sector size in bytes (512 or 4096, or any power of two between).
    pub fn sector_size(&self) -> usize {
        self.info.sector_size as usize
    }
    /// Everything negotiated.
    pub fn info(&self) -> &DiskInfo {
        &self.info
    }
    /// Whether writes and discards are refused.
    pub fn read_only(&self) -> bool {
        self.info.read_only()
    }
    /// The largest read or write one request can carry.
    pub fn max_request_bytes(&self) -> usize {
        self.max_segments * PAGE_SIZE
    }
    /// Our event channel port (wait on it, then call [`BlkFront::handle_event`]).
    pub fn port(&self) -> Port {
        self.port
    }
    /// The ring's number of slots (the most requests in flight at once).
    pub fn ring_size(&self) -> u32 {
        self.ring.size()
    }
    /// Grant references of the ring pages.
    pub fn ring_grefs(&self) -> &[GrantRef] {
        &self.ring_grefs
    }
    /// Frames of the ring pages.
    pub fn ring_frames(&self) -> &[xen_traits::Pfn] {
        &self.ring_frames
    }
    /// Why the device is broken, if it is.
    pub fn broken(&self) -> Option<Broken> {
        self.broken
    }
    /// Requests on the ring without a response yet.
    pub fn in_flight(&self) -> usize {
        self.table.pending()
    }
    /// Whether a request could be put on the ring now (a slot is free and the device works).
    pub fn can_submit(&self) -> bool {
        self.broken.is_none() && !self.ring.is_full()
    }
    /// Pages still granted because the backend kept them mapped (after their request completed).
    pub fn held_pages(&self) -> usize {
        self.held.len()
    }
    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// The xenbus node pair and the state we published.
    pub fn frontend(&self) -> &Frontend {
        &self.frontend
    }
    pub(crate) fn frontend_mut(&mut self) -> &mut Frontend {
        &mut self.frontend
    }

    // ---- teardown --------------------------------------------------------------------------------

    /// The device is going away: every request in flight fails with [`Broken::Disconnected`] and no new
    /// one is accepted. Their pages stay owned until [`BlkFront::release_resources`].
    pub fn shut_down(&mut self) {
        self.break_device(Broken::Disconnected);
    }

    /// Once the backend let go of the ring (state `Closed`): revoke the ring's and every request's
    /// grants, give pooled pages back, close the event channel. Returns the number of grants that could
    /// not be revoked (the backend still maps them; their pages are never reused).
    pub fn release_resources(&mut self) -> usize {
        self.shut_down();
        let mut leaked = 0;
        for g in core::mem::take(&mut self.ring_grefs) {
            if self.gnt.revoke(g).is_err() {
                leaked += 1;
            }
        }
        for id in self.table.ids() {
            if let Some(r) = self.table.remove(id) {
                self.release(r);
            }
        }
        self.retry_held();
        leaked += self.held.len();
        for b in core::mem::take(&mut self.pool) {
            self.pages.free(b.page, &[b.pfn]);
        }
        self.evtchn.close(self.port).ok();
        leaked
    }

    // ---- submission ------------------------------------------------------------------------------

    fn check_range(&self, lba: u64, sectors: u64) -> Result<(), SubmitError> {
        match lba.checked_add(sectors) {
            Some(end) if end <= self.capacity() => Ok(()),
            _ => Err(SubmitError::OutOfRange),
        }
    }

    fn wire_sector(&self, lba: u64) -> u64 {
        // In range (checked against capacity, itself sectors_512 / ratio), so this cannot overflow.
        lba * (self.info.sector_size as u64 / WIRE_SECTOR as u64)
    }

    /// Validate `op`, grant its data through bounce pages and put it on the ring, without publishing it
    /// yet: call [`BlkFront::kick`] after a batch (one notification for many requests). Nothing reaches
    /// the ring (and nothing stays granted) when this fails.
    pub fn submit_deferred(&mut self, op: Op<'_>) -> Result<RequestId, SubmitError> {
        if let Some(b) = self.broken {
            return Err(SubmitError::Broken(b));
        }
        let ss = self.sector_size();
        let (kind, lba, len) = match op {
            Op::Read { lba, len } => (Kind::Read, lba, len),
            Op::Write { lba, data } => (Kind::Write, lba, data.len()),
            Op::Flush => (Kind::Flush, 0, 0),
            Op::Discard { lba, count } => {
                if self.read_only() {
                    return Err(SubmitError::ReadOnly);
                }
                if self.info.discard.is_none() {
                    return Err(SubmitError::NotSupported);
                }
                if count == 0 {
                    return Err(SubmitError::Unaligned);
                }
                self.check_range(lba, count)?;
                (Kind::Discard, lba, 0)
            }
        };
        if matches!(kind, Kind::Read | Kind::Write) {
            if kind == Kind::Write && self.read_only() {
                return Err(SubmitError::ReadOnly);
            }
            if len == 0 || !len.is_multiple_of(ss) {
                return Err(SubmitError::Unaligned);
            }
            if len > self.max_request_bytes() {
                return Err(SubmitError::TooLarge);
            }
            self.check_range(lba, (len / ss) as u64)?;
        }
        if kind == Kind::Flush && self.info.flush == FlushMode::None {
            // No cache control offered: completed writes are as durable as the backend makes them.
            let id = self.table.insert(self.new_req(Kind::Flush, 0, None, 0));
            if let Some(r) = self.table.get_mut(id) {
                r.outcome = Some(Ok(()));
            }
            return Ok(id);
        }
        if self.ring.is_full() {
            return Err(SubmitError::QueueFull);
        }
        let sector_number = self.wire_sector(lba);
        let data = match op {
            Op::Write { data, .. } => Some(data),
            _ => None,
        };
        let (req, repr_fn) = match kind {
            Kind::Read | Kind::Write => self.build_rw(kind, len, data)?,
            Kind::Flush => {
                let op = match self.info.flush {
                    FlushMode::WriteBarrier => wire::BLKIF_OP_WRITE_BARRIER,
                    _ => wire::BLKIF_OP_FLUSH_DISKCACHE,
                };
                (self.new_req(kind, op, None, 0), ReprFn::Flush(op))
            }
            Kind::Discard => {
                let count = match op {
                    Op::Discard { count, .. } => count,
                    _ => 0,
                };
                let nr_sectors = self.wire_sector(count);
                (
                    self.new_req(kind, wire::BLKIF_OP_DISCARD, None, 0),
                    ReprFn::Discard(sector_number, nr_sectors),
                )
            }
        };
        let id = self.table.insert(req);
        let handle = self.handle;
        let repr = match repr_fn {
            ReprFn::Direct(op, n, seg) => RequestRepr::Direct {
                operation: op,
                handle,
                id: id.wire(),
                sector_number,
                nr_segments: n,
                seg,
            },
            ReprFn::Indirect(op, n, grefs) => RequestRepr::Indirect {
                indirect_op: op,
                nr_segments: n,
                id: id.wire(),
                sector_number,
                handle,
                indirect_grefs: grefs,
            },
            ReprFn::Flush(op) => RequestRepr::Direct {
                operation: op,
                handle,
                id: id.wire(),
                sector_number: 0,
                nr_segments: 0,
                seg: [Segment::default(); MAX_SEGMENTS_PER_REQUEST],
            },
            ReprFn::Discard(sector_number, nr_sectors) => RequestRepr::Discard {
                flag: 0,
                handle,
                id: id.wire(),
                sector_number,
                nr_sectors,
            },
        };
        if let Err(e) = self.ring.put_request(&ring::Request(repr)) {
            // Checked not full above; only a broken ring gets here.
            log::error!("blkfront: ring refused a request: {e:?}");
            let b = Broken::ResponseOverflow;
            if let Some(r) = self.table.remove(id) {
                self.release(r);
            }
            self.break_device(b);
            return Err(SubmitError::Broken(b));
        }
        if matches!(repr, RequestRepr::Indirect { .. }) {
            self.stats.indirect += 1;
        }
        self.stats.submitted += 1;
        Ok(id)
    }

    /// Publish every request put on the ring by [`BlkFront::submit_deferred`], notifying the backend
    /// if it asked to be (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`).
    pub fn kick(&mut self) {
        if self.ring.push_requests_and_check_notify() {
            self.stats.notifies += 1;
            self.evtchn.notify(self.port);
        }
    }

    /// [`BlkFront::submit`] and [`BlkFront::kick`]: the request is visible to the backend at once.
    pub fn submit(&mut self, op: Op<'_>) -> Result<RequestId, SubmitError> {
        let r = self.submit_deferred(op);
        if r.is_ok() {
            self.kick();
        }
        r
    }

    fn new_req(&self, kind: Kind, op: u8, alt_op: Option<u8>, len: usize) -> Req<A::Page> {
        Req {
            kind,
            op,
            alt_op,
            len,
            data: Vec::new(),
            indirect: Vec::new(),
            waker: None,
            abandoned: false,
            outcome: None,
        }
    }

    /// A bounce page from the pool or the allocator.
    fn page(&mut self) -> Result<Buf<A::Page>, SubmitError> {
        if let Some(b) = self.pool.pop() {
            return Ok(b);
        }
        let (page, frames) = self.pages.alloc(1).map_err(|_| SubmitError::NoMemory)?;
        match frames.first() {
            Some(&pfn) if frames.len() == 1 && page.size() >= PAGE_SIZE => Ok(Buf {
                page,
                pfn,
                gref: None,
            }),
            _ => {
                self.pages.free(page, &frames);
                Err(SubmitError::NoMemory)
            }
        }
    }

    fn grant(&mut self, b: &mut Buf<A::Page>, readonly: bool) -> Result<GrantRef, SubmitError> {
        let g = self
            .gnt
            .grant(self.backend, b.pfn, readonly)
            .map_err(SubmitError::Grant)?;
        b.gref = Some(g);
        Ok(g)
    }

    /// Bounce pages (and indirect pages) for a read or write; on failure everything is undone.
    fn build_rw(
        &mut self,
        kind: Kind,
        len: usize,
        data: Option<&[u8]>,
    ) -> Result<(Req<A::Page>, ReprFn), SubmitError> {
        let op = if kind == Kind::Write {
            wire::BLKIF_OP_WRITE
        } else {
            wire::BLKIF_OP_READ
        };
        let nseg = len.div_ceil(PAGE_SIZE);
        let indirect = nseg > MAX_SEGMENTS_PER_REQUEST;
        let mut req = self.new_req(kind, op, indirect.then_some(wire::BLKIF_OP_INDIRECT), len);
        match self.fill(&mut req, op, nseg, len, data, indirect) {
            Ok(f) => Ok((req, f)),
            Err(e) => {
                self.release(req);
                Err(e)
            }
        }
    }

    fn fill(
        &mut self,
        req: &mut Req<A::Page>,
        op: u8,
        nseg: usize,
        len: usize,
        data: Option<&[u8]>,
        indirect: bool,
    ) -> Result<ReprFn, SubmitError> {
        let mut segs = Vec::with_capacity(nseg);
        for i in 0..nseg {
            let mut b = self.page()?;
            let chunk = (len - i * PAGE_SIZE).min(PAGE_SIZE);
            if let Some(d) = data {
                b.page
                    .write_bytes(0, &d[i * PAGE_SIZE..i * PAGE_SIZE + chunk]);
            }
            // The backend writes into the page for a read; it only reads it for a write.
            let g = self.grant(&mut b, data.is_some());
            req.data.push(b);
            let gref = g?;
            segs.push(Segment {
                gref,
                first_sect: 0,
                last_sect: (chunk / WIRE_SECTOR - 1) as u8,
            });
        }
        if !indirect {
            let mut seg = [Segment::default(); MAX_SEGMENTS_PER_REQUEST];
            seg[..nseg].copy_from_slice(&segs);
            return Ok(ReprFn::Direct(op, nseg as u8, seg));
        }
        let mut grefs = [GrantRef(0); wire::MAX_INDIRECT_PAGES_PER_REQUEST];
        for (i, chunk) in segs.chunks(wire::SEGMENTS_PER_INDIRECT_FRAME).enumerate() {
            let mut b = self.page()?;
            let mut bytes = [0u8; wire::SEGMENT_LEN];
            for (j, s) in chunk.iter().enumerate() {
                wire::SegmentPacket::new_checked(&mut bytes[..])
                    .map_err(|_| SubmitError::NoMemory)?
                    .set(s);
                b.page.write_bytes(j * wire::SEGMENT_LEN, &bytes);
            }
            let g = self.grant(&mut b, true);
            req.indirect.push(b);
            grefs[i] = g?;
        }
        Ok(ReprFn::Indirect(op, nseg as u16, grefs))
    }

    // ---- completion ------------------------------------------------------------------------------

    /// The event channel fired (or the caller polls): consume every response, complete requests, retry
    /// held grants, then wake the waiters of completed requests. Returns the number of requests
    /// completed.
    pub fn handle_event(&mut self) -> usize {
        let mut wakers = Vec::new();
        let n = self.handle_event_deferred(&mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        n
    }

    /// [`BlkFront::handle_event`], but the wakers of completed requests are appended to `wakers`
    /// instead of woken, so a caller holding a lock (a `RefCell` borrow) can wake them after releasing
    /// it.
    pub fn handle_event_deferred(&mut self, wakers: &mut Vec<Waker>) -> usize {
        let mut done = 0;
        while self.broken.is_none() {
            match self.ring.take_response() {
                Err(_) => self.break_device(Broken::ResponseOverflow),
                Ok(Some(ring::Response(rsp))) => {
                    if self.complete(rsp) {
                        done += 1;
                    }
                }
                Ok(None) => match self.ring.final_check_for_responses() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => self.break_device(Broken::ResponseOverflow),
                },
            }
        }
        self.retry_held();
        wakers.append(&mut self.woken);
        done
    }

    /// Validate one response (already copied out of the ring) and complete its request.
    fn complete(&mut self, rsp: wire::ResponseRepr) -> bool {
        let (id, req) = match self.table.in_flight(rsp.id) {
            Ok(x) => x,
            Err(b) => {
                log::error!("blkfront: bad response {rsp:?}: {b:?}");
                self.break_device(b);
                return false;
            }
        };
        let mut violation = None;
        let outcome = if rsp.operation != req.op && Some(rsp.operation) != req.alt_op {
            violation = Some(Broken::WrongOperation {
                expected: req.op,
                got: rsp.operation,
            });
            Err(IoError::Protocol)
        } else {
            match rsp.status {
                wire::BLKIF_RSP_OKAY => Ok(()),
                wire::BLKIF_RSP_ERROR => Err(IoError::Backend),
                wire::BLKIF_RSP_EOPNOTSUPP => Err(IoError::NotSupported),
                s => {
                    violation = Some(Broken::BadStatus(s));
                    Err(IoError::Protocol)
                }
            }
        };
        let kind = req.kind;
        self.stats.completed += 1;
        self.settle(id, outcome);
        if outcome == Err(IoError::NotSupported) {
            match kind {
                Kind::Flush => {
                    log::warn!("blkfront: backend refused flush; disabling it");
                    self.info.flush = FlushMode::None;
                }
                Kind::Discard => {
                    log::warn!("blkfront: backend refused discard; disabling it");
                    self.info.discard = None;
                }
                _ => {}
            }
        }
        if let Some(b) = violation {
            log::error!("blkfront: bad response {rsp:?}: {b:?}");
            self.break_device(b);
        }
        true
    }

    /// Record `outcome` for in-flight `id`, end its grants, wake its waiter; release it if abandoned.
    fn settle(&mut self, id: RequestId, outcome: Result<(), IoError>) {
        let Some(req) = self.table.get_mut(id) else {
            return;
        };
        req.outcome = Some(outcome);
        let waker = req.waker.take();
        let abandoned = req.abandoned;
        let mut data = core::mem::take(&mut req.data);
        let indirect = core::mem::take(&mut req.indirect);
        for b in data.iter_mut() {
            Self::try_revoke(&mut self.gnt, &mut self.stats, b);
        }
        if let Some(req) = self.table.get_mut(id) {
            req.data = data;
        }
        for mut b in indirect {
            Self::try_revoke(&mut self.gnt, &mut self.stats, &mut b);
            self.recycle(b);
        }
        if abandoned {
            if let Some(r) = self.table.remove(id) {
                self.release(r);
            }
        }
        if let Some(w) = waker {
            self.woken.push(w);
        }
    }

    fn try_revoke(gnt: &mut G, stats: &mut Stats, b: &mut Buf<A::Page>) {
        if let Some(g) = b.gref {
            match gnt.revoke(g) {
                Ok(()) => b.gref = None,
                Err(RevokeError::StillInUse) => stats.revoke_busy += 1,
                Err(RevokeError::InvalidRef) => {
                    log::error!("blkfront: revoking our {g} failed: not a valid grant");
                    b.gref = None;
                }
            }
        }
    }

    /// A page whose request is over: back to the pool once its grant is gone, else held.
    fn recycle(&mut self, b: Buf<A::Page>) {
        if b.gref.is_some() {
            self.held.push(b);
        } else if self.pool.len() < POOL_MAX {
            self.pool.push(b);
        } else {
            self.pages.free(b.page, &[b.pfn]);
        }
    }

    /// Give back every page of a request (revoking what is still granted).
    fn release(&mut self, req: Req<A::Page>) {
        for mut b in req.data.into_iter().chain(req.indirect) {
            Self::try_revoke(&mut self.gnt, &mut self.stats, &mut b);
            self.recycle(b);
        }
    }

    fn retry_held(&mut self) {
        let held = core::mem::take(&mut self.held);
        for mut b in held {
            Self::try_revoke(&mut self.gnt, &mut self.stats, &mut b);
            self.recycle(b);
        }
    }

    /// Mark the device broken: every request in flight fails with `b`.
    fn break_device(&mut self, b: Broken) {
        if self.broken.is_none() {
            log::error!("blkfront: device broken: {b:?}");
            self.broken = Some(b);
        }
        let ids: Vec<RequestId> = self.table.pending_mut().map(|(id, _)| id).collect();
        for id in ids {
            self.settle(id, Err(IoError::Broken(b)));
        }
    }

    // ---- results ---------------------------------------------------------------------------------

    /// The outcome of `id` without finishing it; registers `waker` (if given) while in flight.
    pub fn poll_request(
        &mut self,
        id: RequestId,
        waker: Option<&Waker>,
    ) -> Poll<Result<(), IoError>> {
        match self.table.get_mut(id) {
            None => Poll::Ready(Err(IoError::UnknownRequest)),
            Some(r) => match r.outcome {
                Some(o) => Poll::Ready(o),
                None => {
                    if let Some(w) = waker {
                        match &mut r.waker {
                            Some(old) if old.will_wake(w) => {}
                            slot => *slot = Some(w.clone()),
                        }
                    }
                    Poll::Pending
                }
            },
        }
    }

    /// Finish a completed request (any kind; read data is dropped): its slot and pages are released.
    pub fn finish(&mut self, id: RequestId) -> Poll<Result<(), IoError>> {
        match self.poll_request(id, None) {
            Poll::Ready(Err(IoError::UnknownRequest)) => Poll::Ready(Err(IoError::UnknownRequest)),
            Poll::Pending => Poll::Pending,
            Poll::Ready(o) => {
                if let Some(r) = self.table.remove(id) {
                    self.release(r);
                }
                Poll::Ready(o)
            }
        }
    }

    /// Finish a completed read, copying its data into `out` (exactly the request's length) once.
    pub fn finish_read(&mut self, id: RequestId, out: &mut [u8]) -> Poll<Result<(), IoError>> {
        let Some(r) = self.table.get_mut(id) else {
            return Poll::Ready(Err(IoError::UnknownRequest));
        };
        match r.outcome {
            None => return Poll::Pending,
            Some(Ok(())) => {
                if r.kind != Kind::Read || out.len() != r.len {
                    return Poll::Ready(Err(IoError::BufferSize));
                }
                for (b, chunk) in r.data.iter().zip(out.chunks_mut(PAGE_SIZE)) {
                    b.page.read_bytes(0, chunk);
                }
            }
            Some(Err(_)) => {}
        }
        self.finish(id)
    }

    /// The submitter no longer waits for `id` (its future was dropped): release it when it completes
    /// (at once if it already did). The pages stay owned until the backend is done with them.
    pub fn abandon(&mut self, id: RequestId) {
        match self.table.get_mut(id) {
            Some(r) if r.outcome.is_none() => {
                r.abandoned = true;
                r.waker = None;
            }
            Some(_) => {
                let _ = self.finish(id);
            }
            None => {}
        }
    }

    /// Requests submitted and not yet finished.
    pub fn unfinished(&self) -> usize {
        self.table.len()
    }
}

#[derive(Debug)]
enum ReprFn {
    Direct(u8, u8, [Segment; MAX_SEGMENTS_PER_REQUEST]),
    Indirect(u8, u16, [GrantRef; wire::MAX_INDIRECT_PAGES_PER_REQUEST]),
    Flush(u8),
    Discard(u64, u64),
}
