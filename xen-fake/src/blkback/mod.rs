//! A fake blkback: the real blkif protocol over real ring memory (granted [`FakePage`]s, a multi-page
//! ring when the frontend asks for one), an in-memory [`Disk`], the xenbus handshake through
//! [`FakeXenstored`], and hostile modes ([`BlkHostile`], out-of-order completion, grants held mapped).
//!
//! Single-threaded and explicit: a test calls [`FakeBlkback::poll_xenstore`] to let the backend follow
//! the handshake and [`FakeBlkback::process`] to serve requests, so every interleaving is chosen by the
//! test and nothing sleeps.
//!
//! [`FakePage`]: crate::FakePage

mod disk;
mod pages;
pub mod setup;
mod span;
mod wire;

use std::collections::VecDeque;

use xen_traits::{DomId, EventChannels, GrantRef, Port, SharedPage, PAGE_SIZE};
use xenbus::discovery::VBD;

use crate::back_ring::BackRing;
use crate::evtchn::FakeEventChannels;
use crate::grant::FakeGrantTable;
use crate::xenstored::FakeXenstored;

pub use disk::Disk;
pub use pages::FakePages;
pub use setup::BlkSetup;
pub use span::PageSpan;
use wire::{RawRequest, Rsp, Seg};

/// How the fake backend offers cache control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackFlush {
    /// `feature-flush-cache = 1`
    Cache,
    /// `feature-barrier = 1`
    Barrier,
    /// Neither key.
    None,
}

/// What the fake backend offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlkbackConfig {
    /// Logical sector size (512 or 4096).
    pub sector_size: usize,
    /// Disk size in logical sectors.
    pub sectors: u64,
    /// `info |= VDISK_READONLY`, and writes fail.
    pub read_only: bool,
    /// `info |= VDISK_REMOVABLE`.
    pub removable: bool,
    /// Cache control.
    pub flush: BackFlush,
    /// `feature-discard = 1` (with granularity = sector size, alignment 0).
    pub discard: bool,
    /// `feature-max-indirect-segments` (0: key absent, no indirect).
    pub max_indirect_segments: u32,
    /// `max-ring-page-order` (`None`: key absent).
    pub max_ring_page_order: Option<u32>,
}

impl Default for BlkbackConfig {
    fn default() -> Self {
        BlkbackConfig {
            sector_size: 512,
            sectors: 2048,
            read_only: false,
            removable: false,
            flush: BackFlush::Cache,
            discard: true,
            max_indirect_segments: 256,
            max_ring_page_order: Some(4),
        }
    }
}

/// A misbehaviour applied to the next response (one entry per response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlkHostile {
    /// The response carries an id no request has.
    BadId,
    /// The response carries another operation (read ↔ write, anything else → read).
    WrongOperation,
    /// The response is sent twice (the copy takes the ring slot of the next request in the batch).
    Duplicate,
    /// `BLKIF_RSP_ERROR` (a legitimate failure).
    ErrorStatus,
    /// A status outside `BLKIF_RSP_*`.
    BadStatus(i16),
    /// After publishing, `rsp_prod` jumps 1000 past the real responses.
    RspProdJump,
}

/// A request the backend served, for tests to inspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The request's operation byte (`BLKIF_OP_INDIRECT` for indirect ones).
    pub operation: u8,
    /// The inner operation of an indirect request, else the operation.
    pub effective_op: u8,
    /// `sector_number` (512-byte units).
    pub sector: u64,
    /// Segments (direct or indirect).
    pub segments: u16,
    /// Bytes transferred (discard: bytes discarded).
    pub bytes: u64,
    /// The id.
    pub id: u64,
    /// The status answered (before hostile changes).
    pub status: i16,
}

type Ring = BackRing<PageSpan, RawRequest, Rsp>;

/// The fake block backend. See the [module docs](self).
#[derive(Debug)]
pub struct FakeBlkback {
    cfg: BlkbackConfig,
    guest: DomId,
    front: String,
    back: String,
    gnt: FakeGrantTable,
    evtchn: FakeEventChannels,
    disk: Disk,
    ring: Option<Ring>,
    ring_grefs: Vec<GrantRef>,
    port: Option<Port>,
    protocol: Option<String>,
    hostile: VecDeque<BlkHostile>,
    out_of_order: bool,
    hold_grants: bool,
    defer: bool,
    deferred: Vec<Rsp>,
    held: Vec<GrantRef>,
    seen: Vec<Seen>,
    answered: Vec<u64>,
    error: Option<String>,
}

const BACKEND: DomId = DomId::DOM0;

impl FakeBlkback {
    /// Create device `vbd/<devid>` of the daemon's guest the way `xl` does, with this backend in dom0
    /// (`InitWait`, `max-ring-page-order`, `feature-max-indirect-segments` written at once, like Linux
    /// blkback's probe).
    pub fn new(
        cfg: BlkbackConfig,
        xenstored: &mut FakeXenstored,
        devid: u32,
        gnt: FakeGrantTable,
        evtchn: FakeEventChannels,
        guest: DomId,
    ) -> FakeBlkback {
        let (front, back) = xenstored.add_device(VBD, devid, BACKEND);
        if let Some(o) = cfg.max_ring_page_order {
            xenstored.dom0_write(
                &format!("{back}/max-ring-page-order"),
                o.to_string().as_bytes(),
            );
        }
        if cfg.max_indirect_segments > 0 {
            xenstored.dom0_write(
                &format!("{back}/feature-max-indirect-segments"),
                cfg.max_indirect_segments.to_string().as_bytes(),
            );
        }
        xenstored.dom0_write(&format!("{back}/state"), b"2");
        FakeBlkback {
            disk: Disk::new(cfg.sector_size, cfg.sectors),
            cfg,
            guest,
            front,
            back,
            gnt,
            evtchn,
            ring: None,
            ring_grefs: Vec::new(),
            port: None,
            protocol: None,
            hostile: VecDeque::new(),
            out_of_order: false,
            hold_grants: false,
            defer: false,
            deferred: Vec::new(),
            held: Vec::new(),
            seen: Vec::new(),
            answered: Vec::new(),
            error: None,
        }
    }

    /// The frontend's directory (absolute).
    pub fn front_path(&self) -> &str {
        &self.front
    }
    /// The backend's directory.
    pub fn back_path(&self) -> &str {
        &self.back
    }
    /// The disk.
    pub fn disk(&self) -> &Disk {
        &self.disk
    }
    /// The disk, to preload data.
    pub fn disk_mut(&mut self) -> &mut Disk {
        &mut self.disk
    }
    /// Requests served so far.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }
    /// Ids of the responses published, in ring order.
    pub fn answered(&self) -> &[u64] {
        &self.answered
    }
    /// Why the backend gave up (a frontend protocol error), if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    /// The `protocol` the frontend wrote.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
    /// The ring's grants (mapped while connected).
    pub fn ring_grefs(&self) -> &[GrantRef] {
        &self.ring_grefs
    }
    /// Ring slots, once connected.
    pub fn ring_size(&self) -> Option<u32> {
        self.ring.as_ref().map(|r| r.size())
    }
    /// Whether the handshake is done.
    pub fn connected(&self) -> bool {
        self.ring.is_some()
    }
    /// Data grants still mapped because of [`FakeBlkback::set_hold_grants`].
    pub fn held_grants(&self) -> usize {
        self.held.len()
    }

    /// Queue a misbehaviour for the next response.
    pub fn push_hostile(&mut self, h: BlkHostile) {
        self.hostile.push_back(h);
    }
    /// Answer in reverse order: each batch taken from the ring, or everything deferred.
    pub fn set_out_of_order(&mut self, on: bool) {
        self.out_of_order = on;
    }
    /// Keep data grants mapped after responding (until [`FakeBlkback::release_grants`]).
    pub fn set_hold_grants(&mut self, on: bool) {
        self.hold_grants = on;
    }
    /// Serve requests but keep the responses until [`FakeBlkback::release_responses`].
    pub fn set_defer(&mut self, on: bool) {
        self.defer = on;
    }
    /// Unmap every held data grant.
    pub fn release_grants(&mut self) {
        for g in self.held.drain(..) {
            self.gnt.unmap(g);
        }
    }

    fn fail(&mut self, why: String) -> bool {
        self.error = Some(why);
        false
    }

    // ---- xenbus ---------------------------------------------------------------------------------

    /// Follow the frontend: once it is `Initialised`, map the ring it published, bind its event
    /// channel, describe the disk and switch to `Connected`; once it is `Closing`, unmap everything and
    /// switch to `Closed`. Returns whether anything happened.
    pub fn poll_xenstore(&mut self, d: &mut FakeXenstored) -> bool {
        let read = |d: &FakeXenstored, k: &str| {
            d.value(&format!("{}/{k}", self.front))
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        if self.ring.is_some() {
            // Connected: follow a frontend that closes (Linux blkback: unmap, Closing, Closed).
            if read(d, "state").as_deref() != Some("5") {
                return false;
            }
            self.ring = None;
            for g in std::mem::take(&mut self.ring_grefs) {
                self.gnt.unmap(g);
            }
            self.release_grants();
            if let Some(p) = self.port.take() {
                self.evtchn.close(p).ok();
            }
            d.dom0_write(&format!("{}/state", self.back), b"5");
            d.dom0_write(&format!("{}/state", self.back), b"6");
            return true;
        }
        if self.error.is_some() {
            return false;
        }
        if read(d, "state").as_deref() != Some("3") {
            return false;
        }
        let order: u32 = match read(d, "ring-page-order") {
            None => 0,
            Some(v) => match v.parse() {
                Ok(o) if Some(o) <= self.cfg.max_ring_page_order => o,
                _ => return self.fail(format!("bad ring-page-order {v:?}")),
            },
        };
        let mut grefs = Vec::new();
        if order == 0 {
            match read(d, "ring-ref").and_then(|v| v.parse().ok()) {
                Some(g) => grefs.push(GrantRef(g)),
                None => return self.fail("no ring-ref".into()),
            }
        } else {
            if read(d, "ring-ref").is_some() {
                return self.fail("ring-ref beside ring-page-order".into());
            }
            for i in 0..1u32 << order {
                match read(d, &format!("ring-ref{i}")).and_then(|v| v.parse().ok()) {
                    Some(g) => grefs.push(GrantRef(g)),
                    None => return self.fail(format!("no ring-ref{i}")),
                }
            }
        }
        let Some(port) = read(d, "event-channel").and_then(|v| v.parse().ok()) else {
            return self.fail("no event-channel".into());
        };
        self.protocol = read(d, "protocol");
        if self.protocol.as_deref() != Some("x86_64-abi") {
            return self.fail(format!("protocol {:?}", self.protocol));
        }
        let mut pages = Vec::new();
        for &g in &grefs {
            match self.gnt.map(BACKEND, g, true) {
                Ok(p) => pages.push(p),
                Err(e) => {
                    for &m in &grefs[..pages.len()] {
                        self.gnt.unmap(m);
                    }
                    return self.fail(format!("mapping ring {g}: {e:?}"));
                }
            }
        }
        let port = match self.evtchn.bind_interdomain(self.guest, Port(port)) {
            Ok(p) => p,
            Err(e) => return self.fail(format!("binding event channel: {e:?}")),
        };
        self.ring = Some(BackRing::attach(PageSpan::new(pages), 0));
        self.ring_grefs = grefs;
        self.port = Some(port);
        let b = self.back.clone();
        let mut w = |k: &str, v: String| d.dom0_write(&format!("{b}/{k}"), v.as_bytes());
        let c = self.cfg;
        w("sectors", self.disk.sectors_512().to_string());
        w("sector-size", c.sector_size.to_string());
        w("physical-sector-size", c.sector_size.to_string());
        let info = if c.read_only { 4 } else { 0 } | if c.removable { 2 } else { 0 };
        w("info", info.to_string());
        match c.flush {
            BackFlush::Cache => w("feature-flush-cache", "1".into()),
            BackFlush::Barrier => w("feature-barrier", "1".into()),
            BackFlush::None => {}
        }
        if c.discard {
            w("feature-discard", "1".into());
            w("discard-granularity", c.sector_size.to_string());
            w("discard-alignment", "0".into());
        }
        w("state", "4".into());
        true
    }

    // ---- datapath -------------------------------------------------------------------------------

    /// Serve every published request (and answer per the hostile settings). Returns requests served.
    pub fn process(&mut self) -> usize {
        let mut served = 0;
        loop {
            let mut batch = Vec::new();
            while let Some(ring) = self.ring.as_mut() {
                match ring.take_request() {
                    Ok(Some(r)) => batch.push(r),
                    Ok(None) => break,
                    Err(e) => {
                        self.error = Some(format!("request overflow {e:?}"));
                        return served;
                    }
                }
            }
            if batch.is_empty() {
                let more = self
                    .ring
                    .as_mut()
                    .is_some_and(|r| r.final_check_for_requests());
                if more {
                    continue;
                }
                break;
            }
            served += batch.len();
            let rsps: Vec<Rsp> = batch.iter().map(|r| self.execute(r)).collect();
            self.deferred.extend(rsps);
            if !self.defer {
                self.release_responses();
            }
        }
        served
    }

    /// Publish every response held back by [`FakeBlkback::set_defer`] (reversed if out of order).
    pub fn release_responses(&mut self) {
        let mut rsps = std::mem::take(&mut self.deferred);
        if self.out_of_order {
            rsps.reverse();
        }
        let mut out = Vec::new();
        let mut jump = false;
        for mut r in rsps {
            match self.hostile.pop_front() {
                None => out.push(r),
                Some(BlkHostile::BadId) => {
                    r.id = 0x0000_0000_7fff_fff0;
                    out.push(r)
                }
                Some(BlkHostile::WrongOperation) => {
                    r.operation = if r.operation == wire::OP_READ {
                        wire::OP_WRITE
                    } else {
                        wire::OP_READ
                    };
                    out.push(r)
                }
                Some(BlkHostile::Duplicate) => {
                    out.push(r);
                    out.push(r)
                }
                Some(BlkHostile::ErrorStatus) => {
                    r.status = wire::RSP_ERROR;
                    out.push(r)
                }
                Some(BlkHostile::BadStatus(s)) => {
                    r.status = s;
                    out.push(r)
                }
                Some(BlkHostile::RspProdJump) => {
                    jump = true;
                    out.push(r)
                }
            }
        }
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        for r in &out {
            if ring.put_response(r).is_err() {
                break; // a duplicate took the last slot
            }
            self.answered.push(r.id);
        }
        let notify = ring.push_responses_and_check_notify();
        if jump {
            let prod = ring.page().read_u32(8);
            ring.publish_raw_rsp_prod(prod.wrapping_add(1000));
        }
        if notify || jump {
            if let Some(p) = self.port {
                self.evtchn.notify(p);
            }
        }
    }

    fn execute(&mut self, r: &RawRequest) -> Rsp {
        let op = r.operation();
        let id = r.id();
        let sector = r.sector_number();
        let (effective_op, segments, result) = match op {
            wire::OP_READ | wire::OP_WRITE => {
                let n = r.nr_segments();
                let res = if n as usize > 11 {
                    Err(wire::RSP_ERROR)
                } else {
                    let segs: Vec<Seg> = (0..n as usize).map(|i| r.seg(i)).collect();
                    self.rw(op, sector, &segs)
                };
                (op, u16::from(n), res)
            }
            wire::OP_INDIRECT => {
                let inner = r.indirect_op();
                let n = r.indirect_nr_segments();
                let res = if self.cfg.max_indirect_segments == 0 {
                    Err(wire::RSP_EOPNOTSUPP)
                } else if !matches!(inner, wire::OP_READ | wire::OP_WRITE)
                    || n == 0
                    || u32::from(n) > self.cfg.max_indirect_segments
                {
                    Err(wire::RSP_ERROR)
                } else {
                    match self.indirect_segments(r, n as usize) {
                        Ok(segs) => self.rw(inner, sector, &segs),
                        Err(e) => Err(e),
                    }
                };
                (inner, n, res)
            }
            wire::OP_FLUSH_DISKCACHE | wire::OP_WRITE_BARRIER => {
                let offered = match op {
                    wire::OP_FLUSH_DISKCACHE => self.cfg.flush == BackFlush::Cache,
                    _ => self.cfg.flush == BackFlush::Barrier,
                };
                let res = if offered {
                    self.disk.flush();
                    Ok(0)
                } else {
                    Err(wire::RSP_EOPNOTSUPP)
                };
                (op, 0, res)
            }
            wire::OP_DISCARD => {
                let n = r.discard_nr_sectors();
                let res = if !self.cfg.discard {
                    Err(wire::RSP_EOPNOTSUPP)
                } else if self.cfg.read_only {
                    Err(wire::RSP_ERROR)
                } else {
                    match self.range(sector, n) {
                        Some((off, len)) => {
                            self.disk.discard(off, len);
                            Ok(len)
                        }
                        None => Err(wire::RSP_ERROR),
                    }
                };
                (op, 0, res)
            }
            _ => (op, 0, Err(wire::RSP_EOPNOTSUPP)),
        };
        let (status, bytes) = match result {
            Ok(b) => (wire::RSP_OKAY, b),
            Err(s) => (s, 0),
        };
        self.seen.push(Seen {
            operation: op,
            effective_op,
            sector,
            segments,
            bytes,
            id,
            status,
        });
        // Like Linux blkback, an indirect request is answered with its inner operation.
        Rsp {
            id,
            operation: effective_op,
            status,
        }
    }

    /// Byte range of `n` 512-byte sectors at `sector`, if inside the disk and aligned to the logical
    /// sector size.
    fn range(&self, sector: u64, n: u64) -> Option<(u64, u64)> {
        let per = (self.disk.sector_size() / 512) as u64;
        if !sector.is_multiple_of(per) || !n.is_multiple_of(per) {
            return None;
        }
        let end = sector.checked_add(n)?;
        (end <= self.disk.sectors_512()).then_some((sector * 512, n * 512))
    }

    fn indirect_segments(&mut self, r: &RawRequest, n: usize) -> Result<Vec<Seg>, i16> {
        let per_page = PAGE_SIZE / 8;
        let pages = n.div_ceil(per_page);
        if pages > 8 {
            return Err(wire::RSP_ERROR);
        }
        let mut segs = Vec::with_capacity(n);
        for p in 0..pages {
            let g = r.indirect_gref(p);
            let page = self
                .gnt
                .map(BACKEND, g, false)
                .map_err(|_| wire::RSP_ERROR)?;
            let count = (n - p * per_page).min(per_page);
            let mut buf = vec![0u8; count * 8];
            page.read_bytes(0, &mut buf);
            self.gnt.unmap(g);
            segs.extend(buf.chunks(8).map(Seg::from_bytes));
        }
        Ok(segs)
    }

    /// Read or write through the segments' grants. Everything is checked before any data moves.
    fn rw(&mut self, op: u8, sector: u64, segs: &[Seg]) -> Result<u64, i16> {
        if op == wire::OP_WRITE && self.cfg.read_only {
            return Err(wire::RSP_ERROR);
        }
        let per = (self.disk.sector_size() / 512) as u64;
        let mut total = 0u64;
        for s in segs {
            if s.first > s.last || s.last >= 8 {
                return Err(wire::RSP_ERROR);
            }
            let nsec = u64::from(s.last - s.first + 1);
            if u64::from(s.first) % per != 0 || nsec % per != 0 {
                return Err(wire::RSP_ERROR);
            }
            total += nsec;
        }
        if segs.is_empty() {
            return Err(wire::RSP_ERROR);
        }
        let (mut off, len) = self.range(sector, total).ok_or(wire::RSP_ERROR)?;
        let mut mapped = Vec::new();
        for s in segs {
            match self.gnt.map(BACKEND, s.gref, op == wire::OP_READ) {
                Ok(p) => mapped.push((s, p)),
                Err(_) => {
                    for (m, _) in &mapped {
                        self.gnt.unmap(m.gref);
                    }
                    return Err(wire::RSP_ERROR);
                }
            }
        }
        for (s, page) in &mapped {
            let start = usize::from(s.first) * 512;
            let n = usize::from(s.last - s.first + 1) * 512;
            let mut buf = vec![0u8; n];
            if op == wire::OP_READ {
                self.disk.read(off as usize, &mut buf);
                page.write_bytes(start, &buf);
            } else {
                page.read_bytes(start, &mut buf);
                self.disk.write(off as usize, &buf);
            }
            off += n as u64;
        }
        for (s, _) in mapped {
            if self.hold_grants {
                self.held.push(s.gref);
            } else {
                self.gnt.unmap(s.gref);
            }
        }
        Ok(len)
    }
}
