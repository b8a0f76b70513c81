//! Device setup failures: bad configuration, memory or grants running out — each an error, with every
//! grant already made revoked again.

mod netfront_common;

use netfront::{BackendFeatures, Config, Netfront, SetupError};
use netfront_common::{Dev, GUEST};
use xen_fake::{EventHub, FakeGrantTable, FakeMemory, FakePage};
use xen_traits::{DomId, GrantError, Pfn};

fn try_new(
    cfg: Config,
    grant_capacity: u32,
    pages: usize,
) -> (Result<Dev, SetupError>, FakeGrantTable) {
    let mem = FakeMemory::new();
    let grants = FakeGrantTable::new(mem.clone(), grant_capacity);
    let hub = EventHub::new();
    let mut left = pages;
    let mut alloc = || -> Option<(Pfn, FakePage)> {
        left = left.checked_sub(1)?;
        Some(mem.alloc_page())
    };
    let features = BackendFeatures {
        rx_copy: true,
        sg: true,
        ..Default::default()
    };
    let r = Netfront::new(
        grants.clone(),
        hub.domain(GUEST),
        DomId::DOM0,
        [2, 0, 0, 0, 0, 1],
        features,
        cfg,
        &mut alloc,
    );
    (r, grants)
}

fn cfg(rx: usize, tx: usize) -> Config {
    Config {
        rx_buffers: rx,
        tx_buffers: tx,
        ..Config::default()
    }
}

#[test]
fn bad_configurations() {
    for c in [
        cfg(0, 4),
        cfg(257, 4),
        cfg(4, 0),
        Config {
            rx_sg: false,
            rx_gso_tcpv4: true,
            ..cfg(4, 4)
        },
    ] {
        let (r, g) = try_new(c, 100, 1000);
        assert_eq!(r.err(), Some(SetupError::BadConfig), "{c:?}");
        assert_eq!(g.active(), 0);
    }
    let (r, _) = try_new(cfg(256, 1), 1000, 1000);
    assert!(r.is_ok(), "a full ring of rx buffers is fine");
}

#[test]
fn out_of_memory() {
    // 2 ring pages + 4 rx + 4 tx = 10 pages.
    for pages in [0, 1, 5, 9] {
        let (r, g) = try_new(cfg(4, 4), 100, pages);
        assert_eq!(r.err(), Some(SetupError::OutOfMemory), "{pages} pages");
        assert_eq!(g.active(), 0);
    }
    let (r, g) = try_new(cfg(4, 4), 100, 10);
    let dev = r.unwrap();
    assert_eq!(g.active(), 2 + 4);
    assert_eq!(dev.rx_posted(), 4);
}

#[test]
fn grants_running_out() {
    for cap in [0, 1] {
        let (r, g) = try_new(cfg(4, 4), cap, 100);
        assert_eq!(
            r.err(),
            Some(SetupError::Grant(GrantError::Exhausted)),
            "capacity {cap}"
        );
        assert_eq!(g.active(), 0, "the ring grant made is revoked again");
    }
    // Enough for the rings and some rx buffers: the device comes up with fewer buffers posted.
    let (r, g) = try_new(cfg(4, 4), 4, 100);
    let mut dev = r.unwrap();
    assert_eq!(dev.rx_posted(), 2);
    assert_eq!(g.active(), 4);
    // Nothing left to grant a tx page with: refused before the closure runs, nothing leaks.
    let mut called = false;
    assert_eq!(
        dev.transmit(60, netfront::TxMeta::default(), |_| called = true),
        Err(netfront::TxError::Grant(GrantError::Exhausted))
    );
    assert!(!called);
    assert_eq!(dev.tx_in_flight(), 0);
    assert_eq!(g.active(), 4);
    drop(dev);
    assert_eq!(g.active(), 0);
}
