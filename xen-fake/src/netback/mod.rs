//! A fake netback: the netif protocol over real ring memory, through [`FakeGrantTable`] mappings of the
//! pages the frontend granted, with [`NetHostile`] modes.
//!
//! - xenstore side ([`FakeNetback::create`], [`FakeNetback::step_xenstore`]): features, `InitWait`,
//!   reading `tx-ring-ref`/`rx-ring-ref`/`event-channel`/`request-rx-copy`…, `Connected`.
//! - datapath ([`FakeNetback::process_tx`], [`FakeNetback::deliver_rx`]): maps each granted page,
//!   copies packets, answers in slot order like Linux netback (rx response `i` in the slot of request
//!   `i`, `NETIF_RSP_NULL` for tx extra-info slots).
//!
//! Deterministic: nothing happens unless a test calls it. Frontend protocol violations it detects are
//! recorded ([`FakeNetback::errors`]) for tests to assert on. Written against `io/netif.h`, sharing only
//! the entry encodings (checked against C) with the driver.

mod datapath;
mod hostile;
mod offload;
mod xenstore;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use xen_traits::{DomId, EventChannels, GrantRef, Port, SharedPage};
use xenbus::front_ring::layout;

use netfront::wire::{RxRequest, RxResponse, TxRequest, TxResponse};

pub use datapath::{RxMeta, RxRefused, TxPacket};
pub use hostile::NetHostile;
pub use xenstore::mac_string;

use crate::back_ring::BackRing;
use crate::evtchn::FakeEventChannels;
use crate::exec::{poll_once, Stalled};
use crate::grant::FakeGrantTable;
use crate::page::FakePage;
use crate::xenstored::FakeXenstored;

/// What the fake backend offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetbackConfig {
    /// The vif's MAC (written by "the toolstack" in both directories).
    pub mac: [u8; 6],
    /// `feature-sg`
    pub sg: bool,
    /// `feature-gso-tcpv4`
    pub gso_tcpv4: bool,
    /// `feature-rx-copy`
    pub rx_copy: bool,
    /// `multi-queue-max-queues`, if advertised.
    pub max_queues: Option<u32>,
}

impl Default for NetbackConfig {
    fn default() -> Self {
        NetbackConfig {
            mac: [0x00, 0x16, 0x3e, 0x12, 0x34, 0x56],
            sg: true,
            gso_tcpv4: true,
            rx_copy: true,
            max_queues: None,
        }
    }
}

/// The keys a frontend publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontendKeys {
    /// `tx-ring-ref`
    pub tx_ring_ref: GrantRef,
    /// `rx-ring-ref`
    pub rx_ring_ref: GrantRef,
    /// `event-channel`
    pub event_channel: Port,
    /// `feature-sg`: accepts multi-slot rx packets.
    pub rx_sg: bool,
    /// `feature-gso-tcpv4`: accepts GSO rx packets.
    pub rx_gso_tcpv4: bool,
    /// `feature-rx-notify`
    pub rx_notify: bool,
    /// Not `feature-no-csum-offload`.
    pub csum_offload: bool,
}

/// The fake backend of one vif.
#[derive(Debug)]
pub struct FakeNetback {
    cfg: NetbackConfig,
    grants: FakeGrantTable,
    evtchn: FakeEventChannels,
    guest: DomId,
    paths: Option<(String, String)>,
    keys: Option<FrontendKeys>,
    port: Option<Port>,
    tx: Option<BackRing<FakePage, TxRequest, TxResponse>>,
    rx: Option<BackRing<FakePage, RxRequest, RxResponse>>,
    rx_pending: VecDeque<RxRequest>,
    hostile: VecDeque<NetHostile>,
    hold: bool,
    held: Vec<GrantRef>,
    errors: Vec<String>,
}

impl FakeNetback {
    /// A backend (domain 0) for `guest`, not attached to any rings yet.
    pub fn new(
        grants: FakeGrantTable,
        evtchn: FakeEventChannels,
        guest: DomId,
        cfg: NetbackConfig,
    ) -> FakeNetback {
        FakeNetback {
            cfg,
            grants,
            evtchn,
            guest,
            paths: None,
            keys: None,
            port: None,
            tx: None,
            rx: None,
            rx_pending: VecDeque::new(),
            hostile: VecDeque::new(),
            hold: false,
            held: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> NetbackConfig {
        self.cfg
    }

    /// The frontend's keys, once attached.
    pub fn keys(&self) -> Option<FrontendKeys> {
        self.keys
    }

    /// Whether the rings are mapped and the event channel bound.
    pub fn is_connected(&self) -> bool {
        self.tx.is_some()
    }

    /// Our end of the event channel.
    pub fn port(&self) -> Option<Port> {
        self.port
    }

    /// Frontend protocol violations seen so far.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    fn record(&mut self, e: String) {
        self.errors.push(e);
    }

    /// Queue a misbehaviour.
    pub fn push_hostile(&mut self, h: NetHostile) {
        if h == NetHostile::HoldGrants {
            self.hold = true;
        } else {
            self.hostile.push_back(h);
        }
    }

    /// Stop holding buffer pages and unmap every page held so far.
    pub fn release_grants(&mut self) {
        self.hold = false;
        for g in self.held.drain(..) {
            self.grants.unmap(g);
        }
    }

    /// Buffer pages currently held mapped.
    pub fn held_grants(&self) -> usize {
        self.held.len()
    }

    fn take_hostile(&mut self, pred: impl Fn(NetHostile) -> bool) -> Option<NetHostile> {
        let i = self.hostile.iter().position(|h| pred(*h))?;
        self.hostile.remove(i)
    }

    /// Map the rings the frontend granted and bind its event channel (netback's `connect`). The rings
    /// are attached at the index the frontend initialised them to (its `rsp_prod`).
    pub fn attach(&mut self, keys: FrontendKeys) -> Result<(), String> {
        let tx_page = self
            .grants
            .map(DomId::DOM0, keys.tx_ring_ref, true)
            .map_err(|e| format!("mapping tx-ring-ref {}: {e:?}", keys.tx_ring_ref))?;
        let rx_page = match self.grants.map(DomId::DOM0, keys.rx_ring_ref, true) {
            Ok(p) => p,
            Err(e) => {
                self.grants.unmap(keys.tx_ring_ref);
                return Err(format!("mapping rx-ring-ref {}: {e:?}", keys.rx_ring_ref));
            }
        };
        let port = match self.evtchn.bind_interdomain(self.guest, keys.event_channel) {
            Ok(p) => p,
            Err(e) => {
                self.grants.unmap(keys.tx_ring_ref);
                self.grants.unmap(keys.rx_ring_ref);
                return Err(format!("binding {}: {e:?}", keys.event_channel));
            }
        };
        let tx_start = tx_page.read_u32(layout::RSP_PROD);
        let rx_start = rx_page.read_u32(layout::RSP_PROD);
        self.tx = Some(BackRing::attach(tx_page, tx_start));
        self.rx = Some(BackRing::attach(rx_page, rx_start));
        self.port = Some(port);
        self.keys = Some(keys);
        Ok(())
    }

    /// Unmap the rings and every held page, close the event channel (netback's `disconnect`).
    pub fn detach(&mut self) {
        if let Some(k) = self.keys.take() {
            self.grants.unmap(k.tx_ring_ref);
            self.grants.unmap(k.rx_ring_ref);
        }
        self.tx = None;
        self.rx = None;
        self.rx_pending.clear();
        self.release_grants();
        if let Some(p) = self.port.take() {
            let _ = self.evtchn.close(p);
        }
    }

    /// Unmap the rings and close the event channel but keep held buffer pages mapped (a backend that
    /// disconnects without letting go of everything).
    pub fn detach_rings_only(&mut self) {
        let hold = std::mem::take(&mut self.held);
        self.detach();
        self.held = hold;
    }

    /// Re-arm tx request notifications (`RING_FINAL_CHECK_FOR_REQUESTS`). Returns true if requests are
    /// waiting (do not wait for a notification then).
    pub fn arm_tx(&mut self) -> bool {
        self.tx
            .as_mut()
            .is_some_and(|r| r.final_check_for_requests())
    }

    /// Re-arm rx request notifications (for a backend waiting for receive buffers). Returns true if new
    /// requests were posted meanwhile.
    pub fn arm_rx(&mut self) -> bool {
        self.rx
            .as_mut()
            .is_some_and(|r| r.final_check_for_requests())
    }

    /// Block until the frontend notifies us or `stop()` holds (for a backend on its own thread).
    /// Returns false on `timeout` — a guard against hung tests, never a synchronisation.
    pub fn wait_for_notification(
        &self,
        timeout: std::time::Duration,
        stop: impl Fn() -> bool,
    ) -> bool {
        match self.port {
            Some(p) => self.evtchn.wait_pending(p, timeout, stop),
            None => false,
        }
    }

    /// Consume a pending notification from the frontend (true if it notified us since the last call).
    pub fn take_notification(&self) -> bool {
        self.port.is_some_and(|p| self.evtchn.take_pending(p))
    }

    fn notify(&self) {
        if let Some(p) = self.port {
            self.evtchn.notify(p);
        }
    }
}

/// Run `fut` to completion on this thread, alternating with the fake xenstored and the netback's
/// xenstore side. Reports a stall (nobody can progress) instead of hanging.
pub fn drive_net<F: Future>(
    fut: F,
    xs: &mut FakeXenstored,
    nb: &mut FakeNetback,
) -> Result<F::Output, Stalled> {
    let mut fut = pin!(fut);
    let mut idle_rounds = 0;
    loop {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return Ok(v);
        }
        let progress = xs.run_until_idle() | nb.step_xenstore(xs);
        if progress {
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
            if idle_rounds > 2 {
                return Err(Stalled);
            }
        }
    }
}
