//! The transmit side: the tx ring, the in-flight table (id → granted page), the free pages.
//!
//! A packet of `len` bytes takes one page per 4 KiB (data at offset 0), each its own slot and id: the
//! first request carries the whole size and the checksum flags, later ones their own size, every one but
//! the last `NETTXF_more_data`. A GSO packet has an extra-info slot right after the first request; the
//! backend answers it with `NETIF_RSP_NULL`. Each data slot's page stays granted (read-only) until its
//! response arrives, then is revoked (or quarantined while the backend still maps it).

use alloc::vec;
use alloc::vec::Vec;

use xen_traits::{DomId, GrantTable, SharedPage, PAGE_SIZE};
use xenbus::FrontRing;

use crate::error::{Broken, TxError};
use crate::pages::{grant, Buf, Granted, Quarantine};
use crate::wire::{
    ExtraInfo, GsoType, TxRequest, TxResponse, TxSlot, NETIF_RSP_DROPPED, NETIF_RSP_ERROR,
    NETIF_RSP_NULL, NETIF_RSP_OKAY, NETTXF_CSUM_BLANK, NETTXF_DATA_VALIDATED, NETTXF_EXTRA_INFO,
    NETTXF_MORE_DATA, XEN_NETIF_MAX_TX_SIZE,
};

/// How the transport checksum of an outgoing packet is to be treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TxChecksum {
    /// The packet is complete (flags 0).
    #[default]
    Complete,
    /// The checksum field holds only the pseudo-header sum; the backend (or the receiver) completes it
    /// (`NETTXF_csum_blank | NETTXF_data_validated`).
    Blank,
    /// The data is known good (`NETTXF_data_validated`).
    Validated,
}

/// Segmentation offload for one large TCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    /// Segment payload size (the MSS).
    pub mss: u16,
    /// The protocol.
    pub kind: GsoType,
}

/// Per-packet transmit options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxMeta {
    /// Checksum offload.
    pub checksum: TxChecksum,
    /// Segmentation offload (needs [`TxChecksum::Blank`] and a backend offering it).
    pub gso: Option<Gso>,
}

/// Transmit counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Packets handed to the backend.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Slots the backend answered with an error or drop status.
    pub errors: u64,
    /// Revokes deferred because the backend still mapped the page.
    pub deferred_revokes: u64,
}

/// The tx queue. `P` is the page type of the ring and the buffers.
#[derive(Debug)]
pub struct TxQueue<P> {
    ring: FrontRing<P, TxSlot, TxResponse>,
    table: Vec<Option<Granted<P>>>,
    free_ids: Vec<u16>,
    pool: Vec<Buf<P>>,
    quarantine: Quarantine<P>,
    nulls_expected: u32,
    scratch: Vec<u8>,
    stats: TxStats,
}

impl<P: SharedPage> TxQueue<P> {
    /// A queue over an initialised ring, with `pool` as its buffer pages.
    pub fn new(ring: FrontRing<P, TxSlot, TxResponse>, pool: Vec<Buf<P>>) -> Self {
        let n = ring.size() as usize;
        TxQueue {
            ring,
            table: (0..n).map(|_| None).collect(),
            free_ids: (0..n as u16).rev().collect(),
            pool,
            quarantine: Quarantine::default(),
            nulls_expected: 0,
            scratch: Vec::new(),
            stats: TxStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// Slots in flight (awaiting a response).
    pub fn in_flight(&self) -> usize {
        self.table.iter().filter(|s| s.is_some()).count()
    }

    /// Free buffer pages.
    pub fn free_pages(&self) -> usize {
        self.pool.len()
    }

    /// Pages held because the backend still maps them.
    pub fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    /// Slots a packet of `len` bytes needs: (data slots, ring slots).
    fn slots_for(len: usize, gso: bool) -> (usize, usize) {
        let data = len.div_ceil(PAGE_SIZE).max(1);
        (data, data + usize::from(gso))
    }

    /// Whether a packet of `len` bytes (with or without GSO) fits now.
    pub fn has_room(&self, len: usize, gso: bool) -> bool {
        let (data, ring) = Self::slots_for(len, gso);
        self.pool.len() >= data
            && self.free_ids.len() >= data
            && self.ring.free_requests() as usize >= ring
            && self.ring.broken().is_none()
    }

    /// Put one packet on the ring: grant its pages, let `fill` write it, copy it into the pages, publish.
    /// Returns `fill`'s result and whether the backend must be notified. Limits (`len`, GSO support)
    /// are checked by the caller.
    pub fn send<G: GrantTable, R>(
        &mut self,
        gt: &mut G,
        backend: DomId,
        len: usize,
        meta: TxMeta,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<(R, bool), TxError> {
        // Grant every page first: a failure leaves nothing half-sent and `fill` uncalled.
        let granted = self.grant_pages(gt, backend, len, meta)?;
        let mut scratch = core::mem::take(&mut self.scratch);
        if scratch.len() < len {
            scratch = vec![0u8; len];
        }
        let packet = &mut scratch[..len];
        packet.fill(0);
        let r = fill(packet);
        let notify = self.publish(granted, &scratch[..len], meta);
        self.scratch = scratch;
        Ok((r, notify?))
    }

    /// [`TxQueue::send`] for a frame already built: copied straight into the granted pages.
    pub fn send_frame<G: GrantTable>(
        &mut self,
        gt: &mut G,
        backend: DomId,
        frame: &[u8],
        meta: TxMeta,
    ) -> Result<bool, TxError> {
        let granted = self.grant_pages(gt, backend, frame.len(), meta)?;
        self.publish(granted, frame, meta)
    }

    /// Checks `len` and room, then takes and grants (read-only) the pages a packet of `len` bytes
    /// needs; on failure nothing stays granted.
    fn grant_pages<G: GrantTable>(
        &mut self,
        gt: &mut G,
        backend: DomId,
        len: usize,
        meta: TxMeta,
    ) -> Result<Vec<Granted<P>>, TxError> {
        if len == 0 {
            return Err(TxError::Empty);
        }
        if len > XEN_NETIF_MAX_TX_SIZE {
            return Err(TxError::TooLong);
        }
        if !self.has_room(len, meta.gso.is_some()) {
            return Err(TxError::NoBuffer);
        }
        let (data_slots, _) = Self::slots_for(len, meta.gso.is_some());
        let mut granted: Vec<Granted<P>> = Vec::with_capacity(data_slots);
        for _ in 0..data_slots {
            let Some(buf) = self.pool.pop() else {
                give_back(&mut self.pool, &mut self.quarantine, gt, granted);
                return Err(TxError::NoBuffer);
            };
            match grant(gt, backend, buf, true) {
                Ok(g) => granted.push(g),
                Err((buf, e)) => {
                    self.pool.push(buf);
                    give_back(&mut self.pool, &mut self.quarantine, gt, granted);
                    return Err(TxError::Grant(e));
                }
            }
        }
        Ok(granted)
    }

    /// Copies `data` into the `granted` pages (one per 4 KiB), puts their requests (and a GSO extra) on
    /// the ring, publishes them. Returns whether the backend must be notified.
    fn publish(&mut self, granted: Vec<Granted<P>>, data: &[u8], meta: TxMeta) -> Result<bool, TxError> {
        let len = data.len();
        let data_slots = granted.len();
        let csum = match meta.checksum {
            TxChecksum::Complete => 0,
            TxChecksum::Blank => NETTXF_CSUM_BLANK | NETTXF_DATA_VALIDATED,
            TxChecksum::Validated => NETTXF_DATA_VALIDATED,
        };
        for (i, (g, chunk)) in granted.into_iter().zip(data.chunks(PAGE_SIZE)).enumerate() {
            g.buf.page.write_bytes(0, chunk);
            let id = self.free_ids.pop().unwrap_or(0);
            let last = i + 1 == data_slots;
            let mut flags = if last { 0 } else { NETTXF_MORE_DATA };
            let size = if i == 0 { len } else { chunk.len() };
            if i == 0 {
                flags |= csum;
                if meta.gso.is_some() {
                    flags |= NETTXF_EXTRA_INFO;
                }
            }
            let req = TxRequest {
                gref: g.gref,
                offset: 0,
                flags,
                id,
                size: size as u16,
            };
            // Room was checked when the pages were granted; a failure here is impossible short of a
            // broken ring.
            self.ring
                .put_request(&TxSlot::Request(req))
                .map_err(|e| TxError::Broken(Broken::TxRing(e)))?;
            self.table[usize::from(id)] = Some(g);
            if i == 0 {
                if let Some(gso) = meta.gso {
                    self.ring
                        .put_request(&TxSlot::Extra(ExtraInfo::gso(gso.mss, gso.kind)))
                        .map_err(|e| TxError::Broken(Broken::TxRing(e)))?;
                    self.nulls_expected += 1;
                }
            }
        }
        self.stats.packets += 1;
        self.stats.bytes += len as u64;
        Ok(self.ring.push_requests_and_check_notify())
    }

    /// Take every tx response: validate it, revoke its page's grant, free its id. Returns how many data
    /// slots completed.
    pub fn reclaim<G: GrantTable>(&mut self, gt: &mut G) -> Result<usize, Broken> {
        let mut done = 0;
        self.retry_quarantine(gt);
        loop {
            let rsp = match self.ring.take_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return Err(Broken::TxRing(e)),
            };
            if rsp.status == NETIF_RSP_NULL {
                if self.nulls_expected == 0 {
                    return Err(Broken::TxUnexpectedNull);
                }
                self.nulls_expected -= 1;
                continue;
            }
            let slot = self
                .table
                .get_mut(usize::from(rsp.id))
                .ok_or(Broken::TxBadId(rsp.id))?;
            let g = slot.take().ok_or(Broken::TxNotInFlight(rsp.id))?;
            // Free the slot's page and id whatever the status: the backend is done with the request.
            self.free_ids.push(rsp.id);
            match self.quarantine.release(gt, g) {
                Some(buf) => self.pool.push(buf),
                None => self.stats.deferred_revokes += 1,
            }
            match rsp.status {
                NETIF_RSP_OKAY => {}
                NETIF_RSP_ERROR | NETIF_RSP_DROPPED => self.stats.errors += 1,
                s => return Err(Broken::TxBadStatus(s)),
            }
            done += 1;
        }
        Ok(done)
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: re-arm the response event; true if responses arrived meanwhile.
    pub fn final_check(&mut self) -> Result<bool, Broken> {
        self.ring
            .final_check_for_responses()
            .map_err(Broken::TxRing)
    }

    /// Retry revoking quarantined pages.
    pub fn retry_quarantine<G: GrantTable>(&mut self, gt: &mut G) -> usize {
        self.quarantine.retry(gt, &mut self.pool)
    }

    /// Teardown: revoke every grant still held; returns the pages that are free and the grants the
    /// backend still maps.
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

    /// The ring (for the ring page's teardown).
    pub fn ring(&self) -> &FrontRing<P, TxSlot, TxResponse> {
        &self.ring
    }
}

/// Give back pages granted for a packet that could not be sent.
fn give_back<P, G: GrantTable>(
    pool: &mut Vec<Buf<P>>,
    quarantine: &mut Quarantine<P>,
    gt: &mut G,
    granted: Vec<Granted<P>>,
) {
    for g in granted {
        if let Some(b) = quarantine.release(gt, g) {
            pool.push(b);
        }
    }
}
