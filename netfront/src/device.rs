//! [`Netfront`]: one vif's datapath — the two rings, their grants, the event channel, the buffers — with
//! a poll-driven API shaped for a smoltcp `phy::Device` adapter.
//!
//! - [`Netfront::transmit`] (`len`, a closure that writes the frame), or [`Netfront::transmit_frame`]
//!   for a frame already built — `Err(TxError::NoBuffer)` when no slot or page is free;
//!   [`Netfront::tx_ready`] asks first. All reclaim completed slots.
//! - [`Netfront::rx_packet`] — `Ok(None)` when nothing was received.
//! - `tx_ready` returning false and `rx_packet` returning `None` re-arm the response events: after
//!   either, waiting for the next notification cannot miss work.
//! - [`Netfront::on_event`] after each notification on [`Netfront::port`]: reclaims transmitted slots,
//!   takes received packets, refills the rx ring, re-arms the response events.
//!
//! A backend protocol violation breaks the device ([`Broken`], logged once, sticky). Dropping the device
//! (or [`Netfront::close`]) revokes every grant; a page the backend still maps is leaked on purpose
//! rather than freed under its feet.

use alloc::vec::Vec;

use xen_traits::{DomId, EventChannels, GrantRef, GrantTable, Port, SharedPage, PAGE_SIZE};
use xenbus::front_ring::layout;
use xenbus::FrontRing;

use crate::config::{BackendFeatures, Config};
use crate::error::{Broken, SetupError, TxError};
use crate::pages::{Buf, PageAlloc};
use crate::rx::{RxPacket, RxQueue, RxStats};
use crate::tx::{TxMeta, TxQueue, TxStats};
use crate::wire::{GsoType, XEN_NETIF_MAX_TX_SIZE, XEN_NETIF_NR_SLOTS_MIN};
use crate::{RX_RING_SIZE, TX_RING_SIZE};

/// Shortest frame sent: an Ethernet header (`ETH_HLEN`; netback answers shorter ones with an error).
pub const MIN_FRAME: usize = 14;

/// Whether [`Netfront::on_event`] left work behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Nothing pending: wait for the next event.
    Idle,
    /// Responses arrived while re-arming, or received packets wait: take them, then call again.
    More,
}

/// Counters of both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transmit side.
    pub tx: TxStats,
    /// Receive side.
    pub rx: RxStats,
}

/// What [`Netfront::close`] could not give back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Pages leaked because the backend still mapped them (never freed, never reused).
    pub leaked_pages: usize,
}

#[derive(Debug)]
struct Queues<P> {
    tx: TxQueue<P>,
    rx: RxQueue<P>,
    tx_ring_ref: GrantRef,
    rx_ring_ref: GrantRef,
}

/// One network device. `P`: shared page type, `G`: grant table, `E`: event channels.
#[derive(Debug)]
pub struct Netfront<P: SharedPage, G: GrantTable, E: EventChannels> {
    grants: G,
    evtchn: E,
    backend: DomId,
    port: Port,
    mac: [u8; 6],
    features: BackendFeatures,
    config: Config,
    q: Option<Queues<P>>,
    broken: Option<Broken>,
}

fn init_ring_header<P: SharedPage>(page: &P, start: u32) {
    page.write_u32(layout::REQ_PROD, start);
    page.write_u32(layout::RSP_PROD, start);
    page.write_u32(layout::REQ_EVENT, start.wrapping_add(1));
    page.write_u32(layout::RSP_EVENT, start.wrapping_add(1));
    page.write_bytes(layout::PVT, &[0u8; layout::RING - layout::PVT]);
    page.fence_write();
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> Netfront<P, G, E> {
    /// Set up the device for `backend`: allocate and grant both ring pages, allocate the event channel,
    /// allocate the buffer pages and post the receive buffers. Nothing is published in xenstore (see
    /// [`crate::negotiation`]); [`Netfront::tx_ring_ref`], [`Netfront::rx_ring_ref`] and
    /// [`Netfront::port`] are what to publish.
    pub fn new<A: PageAlloc<Page = P>>(
        mut grants: G,
        evtchn: E,
        backend: DomId,
        mac: [u8; 6],
        features: BackendFeatures,
        config: Config,
        alloc: &mut A,
    ) -> Result<Self, SetupError> {
        if config.rx_buffers == 0
            || config.rx_buffers > RX_RING_SIZE as usize
            || config.tx_buffers == 0
            || (config.rx_gso_tcpv4 && !config.rx_sg)
        {
            return Err(SetupError::BadConfig);
        }
        let mut page = || {
            alloc
                .alloc_page()
                .map(|(pfn, page)| Buf { pfn, page })
                .ok_or(SetupError::OutOfMemory)
        };
        let tx_page = page()?;
        let rx_page = page()?;
        let rx_pool = (0..config.rx_buffers)
            .map(|_| page())
            .collect::<Result<Vec<_>, _>>()?;
        let tx_pool = (0..config.tx_buffers)
            .map(|_| page())
            .collect::<Result<Vec<_>, _>>()?;

        let tx_ring_ref = grants.grant(backend, tx_page.pfn, false)?;
        let rx_ring_ref = match grants.grant(backend, rx_page.pfn, false) {
            Ok(r) => r,
            Err(e) => {
                // Nobody has been told the reference yet: it cannot be mapped.
                let _ = grants.revoke(tx_ring_ref);
                return Err(e.into());
            }
        };
        let undo = |grants: &mut G| {
            let _ = grants.revoke(tx_ring_ref);
            let _ = grants.revoke(rx_ring_ref);
        };
        init_ring_header(&tx_page.page, config.ring_start);
        init_ring_header(&rx_page.page, config.ring_start);
        let tx_ring = match FrontRing::attach(tx_page.page, config.ring_start) {
            Ok(r) => r,
            Err(e) => {
                undo(&mut grants);
                return Err(SetupError::Ring(e));
            }
        };
        let rx_ring = match FrontRing::attach(rx_page.page, config.ring_start) {
            Ok(r) => r,
            Err(e) => {
                undo(&mut grants);
                return Err(SetupError::Ring(e));
            }
        };
        if tx_ring.size() != TX_RING_SIZE || rx_ring.size() != RX_RING_SIZE {
            undo(&mut grants);
            return Err(SetupError::BadConfig);
        }
        let port = match evtchn.alloc_unbound(backend) {
            Ok(p) => p,
            Err(e) => {
                undo(&mut grants);
                return Err(SetupError::Evtchn(e));
            }
        };
        let mut dev = Netfront {
            grants,
            evtchn,
            backend,
            port,
            mac,
            features,
            config,
            q: Some(Queues {
                tx: TxQueue::new(tx_ring, tx_pool),
                rx: RxQueue::new(rx_ring, rx_pool, config.rx_queue_limit),
                tx_ring_ref,
                rx_ring_ref,
            }),
            broken: None,
        };
        // Post the receive buffers now: the backend sees them when it connects.
        if let Some(q) = dev.q.as_mut() {
            q.rx.refill(&mut dev.grants, backend);
        }
        Ok(dev)
    }

    /// The MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }
    /// The backend domain.
    pub fn backend(&self) -> DomId {
        self.backend
    }
    /// Our event channel port (publish as `event-channel`; call [`Netfront::on_event`] when it fires).
    pub fn port(&self) -> Port {
        self.port
    }
    /// What the backend offers.
    pub fn features(&self) -> BackendFeatures {
        self.features
    }
    /// The configuration.
    pub fn config(&self) -> Config {
        self.config
    }
    /// Grant of the tx ring page (publish as `tx-ring-ref`).
    pub fn tx_ring_ref(&self) -> GrantRef {
        self.q.as_ref().map_or(GrantRef(0), |q| q.tx_ring_ref)
    }
    /// Grant of the rx ring page (publish as `rx-ring-ref`).
    pub fn rx_ring_ref(&self) -> GrantRef {
        self.q.as_ref().map_or(GrantRef(0), |q| q.rx_ring_ref)
    }
    /// Why the device is broken, if it is.
    pub fn broken(&self) -> Option<Broken> {
        self.broken
    }
    /// Counters.
    pub fn stats(&self) -> Stats {
        self.q.as_ref().map_or(Stats::default(), |q| Stats {
            tx: q.tx.stats(),
            rx: q.rx.stats(),
        })
    }
    /// Tx data slots awaiting a response.
    pub fn tx_in_flight(&self) -> usize {
        self.q.as_ref().map_or(0, |q| q.tx.in_flight())
    }
    /// Rx buffers posted to the backend.
    pub fn rx_posted(&self) -> usize {
        self.q.as_ref().map_or(0, |q| q.rx.posted())
    }
    /// Pages held (both directions) because the backend still maps them.
    pub fn quarantined(&self) -> usize {
        self.q
            .as_ref()
            .map_or(0, |q| q.tx.quarantined() + q.rx.quarantined())
    }

    /// Largest frame [`Netfront::transmit`] accepts: one page unless the backend takes multi-slot
    /// packets (`feature-sg`), then 64 KiB − 1 (bounded by the tx pages).
    pub fn max_tx_len(&self) -> usize {
        if !self.features.sg {
            return PAGE_SIZE;
        }
        let pages = self.config.tx_buffers.min(XEN_NETIF_NR_SLOTS_MIN);
        XEN_NETIF_MAX_TX_SIZE.min(pages * PAGE_SIZE)
    }

    /// Notify the backend unconditionally (after connecting, as Linux netfront does: requests published
    /// before the backend bound the channel were never signalled).
    pub fn kick(&self) {
        self.evtchn.notify(self.port);
    }

    fn fail(&mut self, b: Broken) -> Broken {
        if self.broken.is_none() {
            log::error!(
                "netfront: backend {} misbehaved, device disabled: {b}",
                self.backend
            );
            self.broken = Some(b);
        }
        b
    }

    fn queues(&mut self) -> Result<&mut Queues<P>, Broken> {
        Ok(self.parts()?.0)
    }

    /// The queues and the grant table, borrowed apart.
    fn parts(&mut self) -> Result<(&mut Queues<P>, &mut G), Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        // `q` is only `None` during drop.
        match self.q.as_mut() {
            Some(q) => Ok((q, &mut self.grants)),
            None => Err(Broken::TxRing(xenbus::RingError::BadGeometry)),
        }
    }

    fn reclaim_tx(&mut self) -> Result<usize, Broken> {
        let (q, gt) = self.parts()?;
        match q.tx.reclaim(gt) {
            Ok(n) => Ok(n),
            Err(b) => Err(self.fail(b)),
        }
    }

    /// Whether a frame of `len` bytes can be sent now (reclaiming completed slots first if needed).
    ///
    /// `false` is a safe point to wait for the next event: the tx response event is re-armed, so the
    /// backend notifies us when it completes anything.
    pub fn tx_ready(&mut self, len: usize) -> bool {
        self.tx_ready_for(len, false)
    }

    /// [`Netfront::tx_ready`] for a frame sent with (`gso`) or without segmentation offload, which takes
    /// one more ring slot. False for a GSO frame when the backend offers no `feature-gso-tcpv4`.
    pub fn tx_ready_for(&mut self, len: usize, gso: bool) -> bool {
        if len < MIN_FRAME || len > self.max_tx_len() || (gso && !self.features.gso_tcpv4) {
            return false;
        }
        self.make_room(len, gso).is_ok_and(|room| room)
    }

    /// Whether `len` bytes fit; if not, reclaim, and if still not, re-arm the tx response event
    /// (reclaiming once more if responses slipped in meanwhile).
    fn make_room(&mut self, len: usize, gso: bool) -> Result<bool, Broken> {
        let fits = |q: &Queues<P>| q.tx.has_room(len, gso);
        if fits(self.queues()?) {
            return Ok(true);
        }
        self.reclaim_tx()?;
        if self.q.as_ref().is_some_and(fits) {
            return Ok(true);
        }
        let more = self.queues()?.tx.final_check();
        match more {
            Ok(true) => {
                self.reclaim_tx()?;
                Ok(self.q.as_ref().is_some_and(fits))
            }
            Ok(false) => Ok(false),
            Err(b) => Err(self.fail(b)),
        }
    }

    /// Send one frame of `len` bytes, written by `fill` into a zeroed buffer (then copied into granted
    /// pages: `fill` never sees shared memory). Returns what `fill` returned.
    pub fn transmit<R>(
        &mut self,
        len: usize,
        meta: TxMeta,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, TxError> {
        self.check_transmit(len, meta)?;
        let backend = self.backend;
        let (q, gt) = self.parts()?;
        let sent = q.tx.send(gt, backend, len, meta, fill);
        self.sent(sent)
    }

    /// [`Netfront::transmit`] for a frame already built: copied straight into the granted pages.
    pub fn transmit_frame(&mut self, frame: &[u8], meta: TxMeta) -> Result<(), TxError> {
        self.check_transmit(frame.len(), meta)?;
        let backend = self.backend;
        let (q, gt) = self.parts()?;
        let sent = q.tx.send_frame(gt, backend, frame, meta);
        self.sent(sent.map(|notify| ((), notify)))
    }

    /// Whether a frame of `len` bytes with `meta` may be sent now: the device works, the length is
    /// within limits, GSO is offered and well-formed, and there is room (reclaiming first if needed).
    fn check_transmit(&mut self, len: usize, meta: TxMeta) -> Result<(), TxError> {
        self.queues()?;
        if len == 0 {
            return Err(TxError::Empty);
        }
        if len < MIN_FRAME {
            return Err(TxError::TooShort);
        }
        if len > self.max_tx_len() {
            return Err(TxError::TooLong);
        }
        if let Some(gso) = meta.gso {
            let offered = match gso.kind {
                GsoType::TcpV4 => self.features.gso_tcpv4,
                GsoType::TcpV6 => self.features.gso_tcpv6,
            };
            if !offered || meta.checksum != crate::tx::TxChecksum::Blank || gso.mss == 0 {
                return Err(TxError::GsoUnsupported);
            }
        }
        if !self.make_room(len, meta.gso.is_some())? {
            return Err(TxError::NoBuffer);
        }
        Ok(())
    }

    /// After a send: notify the backend if the ring asks for it; a broken ring breaks the device.
    fn sent<R>(&mut self, r: Result<(R, bool), TxError>) -> Result<R, TxError> {
        match r {
            Ok((r, notify)) => {
                if notify {
                    self.evtchn.notify(self.port);
                }
                Ok(r)
            }
            Err(TxError::Broken(b)) => Err(TxError::Broken(self.fail(b))),
            Err(e) => Err(e),
        }
    }

    fn harvest_and_refill(&mut self) -> Result<(), Broken> {
        let backend = self.backend;
        let (q, gt) = self.parts()?;
        let r = q.rx.harvest(gt);
        // Refill even after a failure is detected? No: a broken device posts nothing more.
        if let Err(b) = r {
            return Err(self.fail(b));
        }
        let (q, gt) = self.parts()?;
        if q.rx.refill(gt, backend) {
            self.evtchn.notify(self.port);
        }
        Ok(())
    }

    /// The next received frame, or `None`.
    ///
    /// `None` is a safe point to wait for the next event: the rx response event is re-armed first.
    pub fn rx_packet(&mut self) -> Result<Option<RxPacket>, Broken> {
        if self.queues()?.rx.ready() == 0 {
            self.harvest_and_refill()?;
            if self.queues()?.rx.ready() == 0 {
                let more = self.queues()?.rx.final_check();
                match more {
                    Ok(true) => self.harvest_and_refill()?,
                    Ok(false) => {}
                    Err(b) => return Err(self.fail(b)),
                }
            }
        }
        Ok(self.queues()?.rx.pop())
    }

    /// Handle a notification: reclaim tx slots, take received frames, refill, re-arm both response
    /// events. Returns [`Work::More`] when frames wait in [`Netfront::rx_packet`] or responses arrived
    /// while re-arming.
    pub fn on_event(&mut self) -> Result<Work, Broken> {
        self.reclaim_tx()?;
        self.harvest_and_refill()?;
        let q = self.queues()?;
        let tx_more = q.tx.final_check();
        let rx_ready = q.rx.ready() > 0;
        let rx_more = if rx_ready {
            Ok(true)
        } else {
            q.rx.final_check()
        };
        match (tx_more, rx_more) {
            (Err(b), _) | (_, Err(b)) => Err(self.fail(b)),
            (Ok(false), Ok(false)) => Ok(Work::Idle),
            _ => Ok(Work::More),
        }
    }

    fn teardown(&mut self) -> CloseReport {
        let mut report = CloseReport::default();
        let Some(mut q) = self.q.take() else {
            return report;
        };
        let (free_tx, stuck_tx) = q.tx.teardown(&mut self.grants);
        let (free_rx, stuck_rx) = q.rx.teardown(&mut self.grants);
        drop(free_tx);
        drop(free_rx);
        for g in stuck_tx.into_iter().chain(stuck_rx) {
            report.leaked_pages += 1;
            log::warn!("netfront: {} still mapped at close: page leaked", g.gref);
            core::mem::forget(g);
        }
        let tx_ok = self.grants.revoke(q.tx_ring_ref).is_ok();
        let rx_ok = self.grants.revoke(q.rx_ring_ref).is_ok();
        if !(tx_ok && rx_ok) {
            log::warn!("netfront: ring pages still mapped at close: leaked");
            report.leaked_pages += usize::from(!tx_ok) + usize::from(!rx_ok);
            core::mem::forget(q);
        }
        let _ = self.evtchn.close(self.port);
        report
    }

    /// Revoke every grant, close the event channel, free the pages the backend let go of. Call after the
    /// backend disconnected (it unmaps the rings then).
    pub fn close(mut self) -> CloseReport {
        self.teardown()
    }
}

impl<P: SharedPage, G: GrantTable, E: EventChannels> Drop for Netfront<P, G, E> {
    fn drop(&mut self) {
        self.teardown();
    }
}
