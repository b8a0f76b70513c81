//! The receive side: the rx ring, one granted page per posted request, packet assembly.
//!
//! As Linux netfront (and every netback) assumes, the response at ring index `i` answers the request at
//! index `i`: request ids are `i & (size - 1)`, and an extra-info slot — which overlays the id — is
//! matched to its buffer by index alone. Each response is copied out of the ring once, checked (id,
//! status, `offset + size` within the page, chain length, extra types), its data copied out of the page
//! once, then the page's grant is revoked (or quarantined while the backend still maps it) and the page
//! goes back to the pool for the next refill. Any violation breaks the device.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use xen_traits::{DomId, GrantTable, SharedPage, PAGE_SIZE};
use xenbus::FrontRing;

use crate::error::Broken;
use crate::pages::{grant, Buf, Granted, Quarantine};
use crate::tx::Gso;
use crate::wire::{
    ExtraInfo, GsoType, RxRequest, RxResponse, NETIF_RSP_DROPPED, NETIF_RSP_ERROR,
    NETRXF_CSUM_BLANK, NETRXF_DATA_VALIDATED, NETRXF_EXTRA_INFO, NETRXF_MORE_DATA,
    XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MAX, XEN_NETIF_NR_SLOTS_MIN,
};
use xenbus::RingEntry;

/// Most data slots one received packet may span.
pub const MAX_SLOTS_PER_PACKET: usize = XEN_NETIF_NR_SLOTS_MIN;
/// Most extra-info slots one received packet may carry.
pub const MAX_EXTRAS: usize = XEN_NETIF_EXTRA_TYPE_MAX as usize - 1;

/// What the backend says about a received packet's transport checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxChecksum {
    /// Nothing known: verify it.
    #[default]
    Unknown,
    /// `NETRXF_data_validated`: already checked.
    Validated,
    /// `NETRXF_csum_blank`: the checksum field holds only the pseudo-header sum (the packet came from a
    /// local sender with offload); the data is good, the field must be completed before forwarding.
    Blank,
}

/// A received packet, copied out of the shared pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RxPacket {
    /// The frame (Ethernet header onwards).
    pub data: Vec<u8>,
    /// Checksum state.
    pub checksum: RxChecksum,
    /// Set for a GSO packet (a TCP segment larger than the MTU).
    pub gso: Option<Gso>,
}

impl RxPacket {
    /// If the checksum is [`RxChecksum::Blank`], compute and store it (see [`crate::checksum`]) so a
    /// stack that verifies checksums accepts the frame; it becomes [`RxChecksum::Validated`]. Other
    /// states are left alone.
    pub fn complete_checksum(&mut self) -> Result<(), crate::checksum::ChecksumError> {
        if self.checksum == RxChecksum::Blank {
            crate::checksum::complete(&mut self.data)?;
            self.checksum = RxChecksum::Validated;
        }
        Ok(())
    }

    /// Whether the transport checksum can be trusted without the stack verifying it: the backend
    /// validated the data (`Validated`, `Blank`), or it is TCP/UDP and [`crate::checksum::verify`]
    /// passes. Frames that are not TCP/UDP or whose headers do not parse pass too: their checks (IP and
    /// ICMP checksums, lengths) are the stack's.
    pub fn checksum_ok(&self) -> bool {
        match self.checksum {
            RxChecksum::Validated | RxChecksum::Blank => true,
            RxChecksum::Unknown => crate::checksum::verify(&self.data).unwrap_or(true),
        }
    }
}

/// Receive counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Packets received.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Packets the backend reported as errors/drops, or shorter than an Ethernet header (discarded).
    pub errors: u64,
    /// Revokes deferred because the backend still mapped the page.
    pub deferred_revokes: u64,
    /// Packets that came with a GSO extra (several TCP segments in one).
    pub gso_packets: u64,
}

#[derive(Debug, Default)]
struct Partial {
    data: Vec<u8>,
    flags: u16,
    slots: usize,
    extras: usize,
    gso: Option<Gso>,
    error: bool,
    more: bool,
    awaiting_extra: bool,
}

/// The rx queue.
#[derive(Debug)]
pub struct RxQueue<P> {
    ring: FrontRing<P, RxRequest, RxResponse>,
    table: Vec<Option<Granted<P>>>,
    pool: Vec<Buf<P>>,
    quarantine: Quarantine<P>,
    partial: Option<Partial>,
    ready: VecDeque<(RxPacket, usize)>,
    /// Data slots the packets in `ready` took.
    ready_slots: usize,
    ready_limit: usize,
    stats: RxStats,
}

impl<P: SharedPage> RxQueue<P> {
    /// A queue over an initialised ring, with `pool` as its receive pages.
    pub fn new(
        ring: FrontRing<P, RxRequest, RxResponse>,
        pool: Vec<Buf<P>>,
        ready_limit: usize,
    ) -> Self {
        let n = ring.size() as usize;
        RxQueue {
            ring,
            table: (0..n).map(|_| None).collect(),
            pool,
            quarantine: Quarantine::default(),
            partial: None,
            ready: VecDeque::new(),
            ready_slots: 0,
            ready_limit: ready_limit.max(1),
            stats: RxStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> RxStats {
        self.stats
    }

    /// Buffers posted to the backend.
    pub fn posted(&self) -> usize {
        self.table.iter().filter(|s| s.is_some()).count()
    }

    /// Pages held because the backend still maps them.
    pub fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// Free pages (not posted).
    pub fn free_pages(&self) -> usize {
        self.pool.len()
    }

    /// Packets ready to be taken.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Take the next received packet.
    pub fn pop(&mut self) -> Option<RxPacket> {
        let (p, slots) = self.ready.pop_front()?;
        self.ready_slots -= slots;
        Some(p)
    }

    fn mask(&self) -> u32 {
        self.ring.size() - 1
    }

    /// Post every free page (granted writable to `backend`) into free ring slots. Returns whether the
    /// backend must be notified.
    pub fn refill<G: GrantTable>(&mut self, gt: &mut G, backend: DomId) -> bool {
        self.quarantine.retry(gt, &mut self.pool);
        let mut posted = 0;
        while self.ring.free_requests() > 0 {
            let idx = self.ring.req_prod_pvt();
            let slot = (idx & self.mask()) as usize;
            if self.table[slot].is_some() {
                // Unreachable while ring accounting holds; never overwrite a posted buffer.
                break;
            }
            let Some(buf) = self.pool.pop() else { break };
            let g = match grant(gt, backend, buf, false) {
                Ok(g) => g,
                Err((buf, e)) => {
                    log::warn!("netfront: rx refill: grant failed: {e:?}");
                    self.pool.push(buf);
                    break;
                }
            };
            let req = RxRequest {
                id: slot as u16,
                gref: g.gref,
            };
            if self.ring.put_request(&req).is_err() {
                if let Some(b) = self.quarantine.release(gt, g) {
                    self.pool.push(b);
                }
                break;
            }
            self.table[slot] = Some(g);
            posted += 1;
        }
        posted > 0 && self.ring.push_requests_and_check_notify()
    }

    /// Take responses off the ring and assemble packets, until the ring is empty or the packets that
    /// wait took `ready_limit` pages (a GSO packet takes up to 17). Returns the number of packets
    /// completed.
    pub fn harvest<G: GrantTable>(&mut self, gt: &mut G) -> Result<usize, Broken> {
        let mut done = 0;
        while self.ready_slots < self.ready_limit {
            let idx = self.ring.rsp_cons();
            let rsp = match self.ring.take_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return Err(Broken::RxRing(e)),
            };
            let slot = (idx & self.mask()) as usize;
            let g = self.table[slot].take().ok_or(Broken::RxNotPosted(idx))?;
            let result = self.take_slot(&rsp, slot as u16, &g.buf.page);
            match self.quarantine.release(gt, g) {
                Some(b) => self.pool.push(b),
                None => self.stats.deferred_revokes += 1,
            }
            if result? {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Account one response (already copied out of the ring). Returns true when it completed a packet.
    fn take_slot(&mut self, rsp: &RxResponse, expected_id: u16, page: &P) -> Result<bool, Broken> {
        let p = self.partial.get_or_insert_with(Partial::default);
        if p.awaiting_extra {
            let extra = ExtraInfo::decode(&rsp.to_bytes());
            p.extras += 1;
            if p.extras > MAX_EXTRAS {
                return Err(Broken::RxTooManyExtras);
            }
            let t = extra.extra_type();
            if t == 0 || t >= XEN_NETIF_EXTRA_TYPE_MAX {
                return Err(Broken::RxBadExtra(t));
            }
            if let ExtraInfo::Gso { size, gso_type, .. } = extra {
                let kind = GsoType::from_u8(gso_type).ok_or(Broken::RxBadExtra(t))?;
                if size == 0 {
                    return Err(Broken::RxBadExtra(XEN_NETIF_EXTRA_TYPE_GSO));
                }
                p.gso = Some(Gso { mss: size, kind });
            }
            p.awaiting_extra = extra.more();
        } else {
            if rsp.id != expected_id {
                return Err(Broken::RxBadId {
                    expected: expected_id,
                    got: rsp.id,
                });
            }
            p.slots += 1;
            if p.slots > MAX_SLOTS_PER_PACKET {
                return Err(Broken::RxChainTooLong);
            }
            let first = p.slots == 1;
            if rsp.status < 0 {
                if rsp.status != NETIF_RSP_ERROR && rsp.status != NETIF_RSP_DROPPED {
                    return Err(Broken::RxBadStatus(rsp.status));
                }
                p.error = true;
            } else {
                let (off, size) = (usize::from(rsp.offset), rsp.status as usize);
                if off + size > PAGE_SIZE {
                    return Err(Broken::RxOutOfPage {
                        offset: rsp.offset,
                        size: size as u16,
                    });
                }
                let start = p.data.len();
                p.data.resize(start + size, 0);
                page.read_bytes(off, &mut p.data[start..]);
            }
            if first {
                p.flags = rsp.flags;
                p.awaiting_extra = rsp.flags & NETRXF_EXTRA_INFO != 0;
            }
            p.more = rsp.flags & NETRXF_MORE_DATA != 0;
        }
        if p.awaiting_extra || p.more {
            return Ok(false);
        }
        let p = self.partial.take().unwrap_or_default();
        if p.error || p.data.len() < crate::device::MIN_FRAME {
            self.stats.errors += 1;
            return Ok(false);
        }
        let checksum = if p.flags & NETRXF_CSUM_BLANK != 0 {
            RxChecksum::Blank
        } else if p.flags & NETRXF_DATA_VALIDATED != 0 {
            RxChecksum::Validated
        } else {
            RxChecksum::Unknown
        };
        self.stats.packets += 1;
        self.stats.bytes += p.data.len() as u64;
        self.stats.gso_packets += u64::from(p.gso.is_some());
        let packet = RxPacket {
            data: p.data,
            checksum,
            gso: p.gso,
        };
        self.ready.push_back((packet, p.slots));
        self.ready_slots += p.slots;
        Ok(true)
    }

    /// Whether responses wait on the ring (without re-arming the event).
    pub fn has_responses(&mut self) -> Result<bool, Broken> {
        Ok(self.ring.unconsumed_responses().map_err(Broken::RxRing)? > 0)
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: re-arm the response event; true if responses arrived meanwhile.
    pub fn final_check(&mut self) -> Result<bool, Broken> {
        self.ring
            .final_check_for_responses()
            .map_err(Broken::RxRing)
    }

    /// Teardown: revoke every grant; returns the free pages and the grants the backend still maps.
    pub fn teardown<G: GrantTable>(&mut self, gt: &mut G) -> (Vec<Buf<P>>, Vec<Granted<P>>) {
        for slot in self.table.iter_mut() {
            if let Some(g) = slot.take() {
                if let Some(b) = self.quarantine.release(gt, g) {
                    self.pool.push(b);
                }
            }
        }
        self.quarantine.retry(gt, &mut self.pool);
        let stuck = self.quarantine.drain().collect();
        (core::mem::take(&mut self.pool), stuck)
    }
}
