//! The netfront xenstore handshake against the fake xenstored and the fake netback: keys, states,
//! features, failures (no rx-copy, bad MAC, backend closing, conflicts), and traffic over the result.

mod netfront_common;

use std::pin::pin;

use netfront::{Config, ConnectError, TxMeta};
use netfront_common::{frame, page_alloc, send, Dev, GUEST};
use xen_fake::netback::RxMeta;
use xen_fake::{
    drive, drive_net, poll_once, FakeClient, FakeGrantTable, FakeMemory, FakeNetback,
    FakeXenstored, NetbackConfig, XenstoreSetup,
};
use xenbus::discovery::{self, VIF};
use xenbus::{Error, Frontend, XenbusState};

struct World {
    setup: XenstoreSetup,
    xsd: FakeXenstored,
    xs: FakeClient,
    nb: FakeNetback,
    grants: FakeGrantTable,
    mem: FakeMemory,
    front: String,
    back: String,
}

fn world(cfg: NetbackConfig) -> World {
    let (setup, mut xsd, xs) = XenstoreSetup::client(GUEST, 0);
    let mem = FakeMemory::new();
    let grants = FakeGrantTable::new(mem.clone(), 4096);
    let nb = FakeNetback::create(&mut xsd, 0, grants.clone(), &setup.hub, GUEST, cfg);
    let (front, back) = nb
        .paths()
        .map(|(f, b)| (f.to_string(), b.to_string()))
        .unwrap();
    World {
        setup,
        xsd,
        xs,
        nb,
        grants,
        mem,
        front,
        back,
    }
}

impl World {
    fn value(&self, path: &str) -> String {
        String::from_utf8(self.xsd.value(path).unwrap_or_default()).unwrap()
    }

    fn connect(&mut self, cfg: Config) -> Result<(Dev, Frontend), ConnectError> {
        let info = drive(discovery::device_info(&self.xs, VIF, 0), &mut self.xsd)
            .unwrap()
            .unwrap();
        let mut alloc = page_alloc(&self.mem);
        let fut = netfront::connect(
            &self.xs,
            info,
            self.grants.clone(),
            self.setup.guest_evtchn.clone(),
            &mut alloc,
            cfg,
        );
        drive_net(fut, &mut self.xsd, &mut self.nb).expect("stalled")
    }
}

#[test]
fn connects_and_publishes_the_keys_linux_netback_reads() {
    let mut w = world(NetbackConfig::default());
    let (dev, fe) = w.connect(Config::default()).unwrap();
    let f = w.front.clone();
    assert_eq!(
        w.value(&format!("{f}/tx-ring-ref")),
        dev.tx_ring_ref().0.to_string()
    );
    assert_eq!(
        w.value(&format!("{f}/rx-ring-ref")),
        dev.rx_ring_ref().0.to_string()
    );
    assert_eq!(
        w.value(&format!("{f}/event-channel")),
        dev.port().0.to_string()
    );
    for (k, v) in [
        ("request-rx-copy", "1"),
        ("feature-rx-notify", "1"),
        ("feature-sg", "1"),
        ("feature-gso-tcpv4", "0"),
        ("feature-no-csum-offload", "0"),
        ("state", "4"),
    ] {
        assert_eq!(w.value(&format!("{f}/{k}")), v, "{k}");
    }
    assert_eq!(w.value(&format!("{}/state", w.back)), "4");
    assert_eq!(fe.state(), XenbusState::Connected);
    assert!(w.nb.is_connected());
    assert!(w.nb.errors().is_empty(), "{:?}", w.nb.errors());
    let feat = dev.features();
    assert!(feat.sg && feat.gso_tcpv4 && feat.rx_copy && feat.rx_notify);
    assert!(!feat.gso_tcpv6);
    assert_eq!(feat.max_queues, None);
    assert_eq!(w.xsd.value(&format!("{f}/multi-queue-num-queues")), None);
    assert_eq!(dev.mac(), NetbackConfig::default().mac);
    let keys = w.nb.keys().unwrap();
    assert!(keys.rx_sg && !keys.rx_gso_tcpv4 && keys.rx_notify && keys.csum_offload);
    assert!(w.nb.take_notification(), "kicked once connected");
    // The keys were written in one transaction.
    assert_eq!(w.xsd.commit_stats().0, 1);
}

#[test]
fn traffic_flows_over_the_negotiated_device() {
    let mut w = world(NetbackConfig::default());
    let (mut dev, _fe) = w.connect(Config::default()).unwrap();
    assert!(w.nb.take_notification(), "the connect kick");
    let f = frame(1514, 7);
    send(&mut dev, &f, TxMeta::default()).unwrap();
    assert!(w.nb.take_notification());
    assert_eq!(w.nb.process_tx()[0].data, f);
    w.nb.deliver_rx(&f, RxMeta::default()).unwrap();
    assert!(w.setup.guest_evtchn.take_pending(dev.port()));
    dev.on_event().unwrap();
    assert_eq!(dev.rx_packet().unwrap().unwrap().data, f);
    assert_eq!(dev.rx_posted(), 256);
}

#[test]
fn writes_nothing_before_the_backend_reaches_init_wait() {
    let mut w = world(NetbackConfig::default());
    let info = drive(discovery::device_info(&w.xs, VIF, 0), &mut w.xsd)
        .unwrap()
        .unwrap();
    let mut alloc = page_alloc(&w.mem);
    let mut fut = pin!(netfront::connect(
        &w.xs,
        info,
        w.grants.clone(),
        w.setup.guest_evtchn.clone(),
        &mut alloc,
        Config::default(),
    ));
    for _ in 0..5 {
        assert!(poll_once(fut.as_mut()).is_pending());
        w.xsd.run_until_idle();
    }
    assert_eq!(w.xsd.value(&format!("{}/tx-ring-ref", w.front)), None);
    assert_eq!(w.xsd.value(&format!("{}/state", w.front)).unwrap(), b"1");
    assert_eq!(w.grants.active(), 0, "no page granted yet");
    let (dev, _) = drive_net(fut, &mut w.xsd, &mut w.nb).unwrap().unwrap();
    assert!(w.grants.active() > 0);
    drop(dev);
}

#[test]
fn advertises_rx_gso_and_no_csum_offload_when_configured() {
    let mut w = world(NetbackConfig::default());
    let (_dev, _) = w
        .connect(Config {
            rx_gso_tcpv4: true,
            rx_csum_offload: false,
            rx_sg: true,
            ..Config::default()
        })
        .unwrap();
    assert_eq!(w.value(&format!("{}/feature-gso-tcpv4", w.front)), "1");
    assert_eq!(
        w.value(&format!("{}/feature-no-csum-offload", w.front)),
        "1"
    );
    let keys = w.nb.keys().unwrap();
    assert!(keys.rx_gso_tcpv4 && !keys.csum_offload);
}

#[test]
fn refuses_a_backend_without_rx_copy() {
    let mut w = world(NetbackConfig {
        rx_copy: false,
        ..NetbackConfig::default()
    });
    assert_eq!(
        w.connect(Config::default()).err(),
        Some(ConnectError::NoRxCopy)
    );
    assert_eq!(w.grants.active(), 0);
    assert_eq!(w.xsd.value(&format!("{}/tx-ring-ref", w.front)), None);
}

#[test]
fn rejects_a_bad_mac_and_falls_back_to_the_backend_mac() {
    let mut w = world(NetbackConfig::default());
    w.xsd
        .dom0_write(&format!("{}/mac", w.front), b"00:16:3e:zz:00:01");
    assert_eq!(
        w.connect(Config::default()).err(),
        Some(ConnectError::BadMac)
    );

    let mut w = world(NetbackConfig::default());
    w.xsd.dom0_rm(&format!("{}/mac", w.front));
    w.xsd
        .dom0_write(&format!("{}/mac", w.back), b"02:00:00:00:00:2a");
    let (dev, _) = w.connect(Config::default()).unwrap();
    assert_eq!(dev.mac(), [2, 0, 0, 0, 0, 0x2a]);
}

#[test]
fn retries_the_key_transaction_on_conflict() {
    let mut w = world(NetbackConfig::default());
    w.xsd.force_conflicts(2);
    let (dev, _) = w.connect(Config::default()).unwrap();
    assert_eq!(
        w.xsd.commit_stats(),
        (1, 2),
        "one commit after two conflicts"
    );
    assert_eq!(
        w.value(&format!("{}/tx-ring-ref", w.front)),
        dev.tx_ring_ref().0.to_string()
    );
    assert_eq!(w.xsd.open_transactions(), 0);
}

#[test]
fn backend_closing_instead_of_connecting_fails_and_revokes_everything() {
    let mut w = world(NetbackConfig::default());
    w.nb.step_xenstore(&mut w.xsd); // InitWait, but it will never connect
    let info = drive(discovery::device_info(&w.xs, VIF, 0), &mut w.xsd)
        .unwrap()
        .unwrap();
    let mut alloc = page_alloc(&w.mem);
    let mut fut = pin!(netfront::connect(
        &w.xs,
        info,
        w.grants.clone(),
        w.setup.guest_evtchn.clone(),
        &mut alloc,
        Config::default(),
    ));
    assert!(
        drive(fut.as_mut(), &mut w.xsd).is_err(),
        "waits for the backend"
    );
    assert_eq!(w.xsd.value(&format!("{}/state", w.front)).unwrap(), b"4");
    assert!(w.grants.active() > 0);
    w.xsd.dom0_write(&format!("{}/state", w.back), b"5");
    let r = drive(fut, &mut w.xsd).unwrap();
    assert_eq!(
        r.err(),
        Some(ConnectError::Xenstore(Error::BackendClosed(
            XenbusState::Closing
        )))
    );
    assert_eq!(
        w.grants.active(),
        0,
        "the dropped device revoked its grants"
    );
}

#[test]
fn netback_refusing_our_keys_is_reported() {
    let mut w = world(NetbackConfig::default());
    // Another party breaks the published ring reference before the backend reads it.
    w.nb.step_xenstore(&mut w.xsd);
    let info = drive(discovery::device_info(&w.xs, VIF, 0), &mut w.xsd)
        .unwrap()
        .unwrap();
    let mut alloc = page_alloc(&w.mem);
    let mut fut = pin!(netfront::connect(
        &w.xs,
        info,
        w.grants.clone(),
        w.setup.guest_evtchn.clone(),
        &mut alloc,
        Config::default(),
    ));
    assert!(drive(fut.as_mut(), &mut w.xsd).is_err());
    w.xsd
        .dom0_write(&format!("{}/tx-ring-ref", w.front), b"99999");
    let r = drive_net(fut, &mut w.xsd, &mut w.nb).unwrap();
    assert_eq!(
        r.err(),
        Some(ConnectError::Xenstore(Error::BackendClosed(
            XenbusState::Closing
        )))
    );
    assert_eq!(w.nb.errors().len(), 1, "{:?}", w.nb.errors());
    assert_eq!(w.grants.active(), 0);
}

#[test]
fn disconnect_then_close_leaves_no_grant() {
    let mut w = world(NetbackConfig::default());
    let (dev, mut fe) = w.connect(Config::default()).unwrap();
    drive_net(
        fe.switch_state(&w.xs, XenbusState::Closing),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    drive_net(
        fe.wait_for_backend(&w.xs, |s| s == XenbusState::Closed),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert!(!w.nb.is_connected());
    assert_eq!(dev.close().leaked_pages, 0);
    assert_eq!(w.grants.active(), 0);
}

#[test]
fn frontend_initiated_disconnect() {
    let mut w = world(NetbackConfig::default());
    let (dev, mut fe) = w.connect(Config::default()).unwrap();
    let report = drive_net(
        netfront::disconnect(&w.xs, &mut fe, dev),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(report.leaked_pages, 0);
    assert_eq!(w.grants.active(), 0);
    assert_eq!(w.value(&format!("{}/state", w.front)), "6");
    assert_eq!(w.value(&format!("{}/state", w.back)), "6");
    assert!(!w.nb.is_connected());
}

#[test]
fn detach_by_the_toolstack_then_reattach() {
    let mut w = world(NetbackConfig::default());
    let (mut dev, mut fe) = w.connect(Config::default()).unwrap();
    let port = dev.port();
    // `xl network-detach`: the backend disconnects and goes to Closing; we notice it through a watch.
    w.nb.begin_close(&mut w.xsd);
    let s = drive_net(
        fe.wait_for_backend(&w.xs, |s| s >= XenbusState::Closing),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(s, XenbusState::Closing);
    // The device still answers (nothing to do) until closed.
    assert_eq!(dev.on_event(), Ok(netfront::Work::Idle));
    let report = drive_net(
        netfront::disconnect(&w.xs, &mut fe, dev),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(report.leaked_pages, 0);
    assert_eq!(w.grants.active(), 0);
    assert_eq!(w.value(&format!("{}/state", w.back)), "6");
    assert!(
        w.setup
            .guest_evtchn
            .calls()
            .contains(&xen_fake::Call::Close(port)),
        "the event channel was closed"
    );

    // `xl network-attach`: a fresh backend; connecting again works and traffic flows.
    w.nb.restart(&mut w.xsd);
    let (mut dev, _fe) = w.connect(Config::default()).unwrap();
    assert!(w.nb.is_connected());
    send(&mut dev, &frame(100, 1), TxMeta::default()).unwrap();
    assert_eq!(w.nb.process_tx()[0].data, frame(100, 1));
    assert!(w.nb.errors().is_empty(), "{:?}", w.nb.errors());
}

#[test]
fn one_queue_is_requested_from_a_multi_queue_backend() {
    let mut w = world(NetbackConfig {
        max_queues: Some(4),
        ..NetbackConfig::default()
    });
    let (dev, _) = w.connect(Config::default()).unwrap();
    assert_eq!(dev.features().max_queues, Some(4));
    assert_eq!(w.value(&format!("{}/multi-queue-num-queues", w.front)), "1");
    assert!(w.nb.is_connected());
}

#[test]
fn toolstack_detach_as_libxl_does_it_then_release_and_reattach() {
    let mut w = world(NetbackConfig::default());
    let (mut dev, mut fe) = w.connect(Config::default()).unwrap();
    // libxl writes the backend's state itself; netback still maps the rings at this point.
    w.nb.toolstack_detach(&mut w.xsd);
    let s = drive_net(
        netfront::wait_backend_leaving(&w.xs, &fe),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(s, XenbusState::Closing);
    assert!(w.nb.is_connected(), "the backend disconnects only when the frontend closes");
    assert_eq!(dev.on_event(), Ok(netfront::Work::Idle));
    let report = drive_net(
        netfront::release(&w.xs, &mut fe, dev),
        &mut w.xsd,
        &mut w.nb,
    )
    .unwrap()
    .unwrap();
    assert_eq!(report.leaked_pages, 0, "release waits until netback let go of the rings");
    assert_eq!(w.grants.active(), 0);
    assert!(!w.nb.is_connected());
    assert_eq!(w.value(&format!("{}/state", w.front)), "6");
    assert_eq!(w.value(&format!("{}/state", w.back)), "6");

    // `xl network-attach`: connecting again works and traffic flows.
    w.nb.restart(&mut w.xsd);
    let (mut dev, _fe) = w.connect(Config::default()).unwrap();
    send(&mut dev, &frame(100, 2), TxMeta::default()).unwrap();
    assert_eq!(w.nb.process_tx()[0].data, frame(100, 2));
}
