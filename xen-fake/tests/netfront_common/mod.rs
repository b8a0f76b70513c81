//! Shared wiring for the netfront tests: a device and a fake netback over one fake memory, grant table
//! and event hub, attached directly (the xenstore handshake has its own tests).
#![allow(dead_code)]

use netfront::{BackendFeatures, Config, Netfront};
use xen_fake::netback::FrontendKeys;
use xen_fake::{
    EventHub, FakeEventChannels, FakeGrantTable, FakeMemory, FakeNetback, FakePage, NetbackConfig,
};
use xen_traits::DomId;

pub const GUEST: DomId = DomId(7);

pub type Dev = Netfront<FakePage, FakeGrantTable, FakeEventChannels>;

pub struct Direct {
    pub dev: Dev,
    pub nb: FakeNetback,
    pub grants: FakeGrantTable,
    pub guest: FakeEventChannels,
    pub mem: FakeMemory,
    pub hub: EventHub,
}

pub fn page_alloc(mem: &FakeMemory) -> impl FnMut() -> Option<(xen_traits::Pfn, FakePage)> + '_ {
    move || Some(mem.alloc_page())
}

pub fn direct(cfg: Config, nbcfg: NetbackConfig) -> Direct {
    let mem = FakeMemory::new();
    let grants = FakeGrantTable::new(mem.clone(), 4096);
    let hub = EventHub::new();
    let guest = hub.domain(GUEST);
    let features = BackendFeatures {
        sg: nbcfg.sg,
        gso_tcpv4: nbcfg.gso_tcpv4,
        rx_copy: nbcfg.rx_copy,
        rx_notify: true,
        ..Default::default()
    };
    let dev = Netfront::new(
        grants.clone(),
        guest.clone(),
        DomId::DOM0,
        nbcfg.mac,
        features,
        cfg,
        &mut page_alloc(&mem),
    )
    .expect("setup");
    let mut nb = FakeNetback::new(grants.clone(), hub.domain(DomId::DOM0), GUEST, nbcfg);
    nb.attach(FrontendKeys {
        tx_ring_ref: dev.tx_ring_ref(),
        rx_ring_ref: dev.rx_ring_ref(),
        event_channel: dev.port(),
        rx_sg: cfg.rx_sg,
        rx_gso_tcpv4: cfg.rx_gso_tcpv4,
        rx_notify: true,
        csum_offload: true,
    })
    .expect("attach");
    Direct {
        dev,
        nb,
        grants,
        guest,
        mem,
        hub,
    }
}

/// A recognisable frame of `len` bytes.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Transmit `data` as is.
pub fn send(dev: &mut Dev, data: &[u8], meta: netfront::TxMeta) -> Result<(), netfront::TxError> {
    dev.transmit(data.len(), meta, |buf| buf.copy_from_slice(data))
}

impl Direct {
    /// Grants a connected device holds at rest: both rings and every posted rx buffer.
    pub fn baseline(&self) -> usize {
        2 + self.dev.rx_posted()
    }
}
