//! Netfront against a hostile netback: every misbehaviour breaks the device with its reason (or, for the
//! legitimate error statuses, is counted), nothing panics, nothing is reused while the backend still
//! maps it.

mod netfront_common;

use netfront::{Broken, Config, TxError, TxMeta, Work};
use netfront_common::{direct, frame, send, Direct};
use proptest::prelude::*;
use xen_fake::netback::RxMeta;
use xen_fake::{NetHostile, NetbackConfig};
use xenbus::RingError;

fn setup() -> Direct {
    direct(
        Config {
            rx_buffers: 64,
            tx_buffers: 8,
            ..Config::default()
        },
        NetbackConfig::default(),
    )
}

/// The device is broken with `want`, and stays so for every operation.
fn assert_broken(d: &mut Direct, want: Broken) {
    assert_eq!(d.dev.broken(), Some(want));
    assert_eq!(d.dev.on_event(), Err(want));
    assert_eq!(d.dev.rx_packet(), Err(want));
    assert_eq!(
        send(&mut d.dev, &frame(60, 0), TxMeta::default()),
        Err(TxError::Broken(want))
    );
    assert!(!d.dev.tx_ready(60));
}

/// Send one packet of `len` bytes with hostile mode `h`, let the backend answer, handle the event.
fn tx_with(h: NetHostile, len: usize) -> (Direct, Result<Work, Broken>) {
    let mut d = setup();
    d.nb.push_hostile(h);
    send(&mut d.dev, &frame(len, 1), TxMeta::default()).unwrap();
    d.nb.process_tx();
    let r = d.dev.on_event();
    (d, r)
}

/// Deliver one packet of `len` bytes with hostile mode `h`, handle the event.
fn rx_with(h: NetHostile, len: usize) -> (Direct, Result<Work, Broken>) {
    let mut d = setup();
    d.nb.push_hostile(h);
    d.nb.deliver_rx(&frame(len, 2), RxMeta::default()).unwrap();
    let r = d.dev.on_event();
    (d, r)
}

#[test]
fn tx_response_with_an_id_outside_the_table() {
    let (mut d, r) = tx_with(NetHostile::TxBadId, 60);
    assert_eq!(r, Err(Broken::TxBadId(0xffff)));
    assert_broken(&mut d, Broken::TxBadId(0xffff));
}

#[test]
fn tx_duplicate_response_id() {
    let (mut d, r) = tx_with(NetHostile::TxDuplicateId, 6000);
    let Err(b @ Broken::TxNotInFlight(_)) = r else {
        panic!("{r:?}")
    };
    assert_broken(&mut d, b);
}

#[test]
fn tx_status_that_is_no_netif_rsp() {
    let (mut d, r) = tx_with(NetHostile::TxBadStatus, 60);
    assert_eq!(r, Err(Broken::TxBadStatus(7)));
    assert_broken(&mut d, Broken::TxBadStatus(7));
}

#[test]
fn tx_null_response_for_a_data_slot() {
    let (mut d, r) = tx_with(NetHostile::TxSpuriousNull, 60);
    assert_eq!(r, Err(Broken::TxUnexpectedNull));
    assert_broken(&mut d, Broken::TxUnexpectedNull);
}

#[test]
fn tx_rsp_prod_jump() {
    let (mut d, r) = tx_with(NetHostile::TxRspProdJump, 60);
    let Err(b @ Broken::TxRing(RingError::ResponseOverflow { .. })) = r else {
        panic!("{r:?}")
    };
    assert_broken(&mut d, b);
}

#[test]
fn tx_error_status_is_counted_not_fatal() {
    let (mut d, r) = tx_with(NetHostile::TxErrorStatus, 60);
    assert_eq!(r, Ok(Work::Idle));
    assert_eq!(d.dev.stats().tx.errors, 1);
    assert_eq!(d.dev.tx_in_flight(), 0, "the slot was freed");
    send(&mut d.dev, &frame(60, 3), TxMeta::default()).unwrap();
    assert_eq!(d.nb.process_tx()[0].data, frame(60, 3));
}

#[test]
fn rx_response_with_the_wrong_id() {
    let (mut d, r) = rx_with(NetHostile::RxBadId, 60);
    let Err(b @ Broken::RxBadId { expected, got }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(got, expected.wrapping_add(1));
    assert_broken(&mut d, b);
}

#[test]
fn rx_offset_plus_size_beyond_the_page() {
    let (mut d, r) = rx_with(NetHostile::RxOffsetBeyondPage, 60);
    let want = Broken::RxOutOfPage {
        offset: 4000,
        size: 200,
    };
    assert_eq!(r, Err(want));
    assert_broken(&mut d, want);
}

#[test]
fn rx_never_ending_more_data_chain() {
    let (mut d, r) = rx_with(NetHostile::RxEndlessMoreData, 60);
    assert_eq!(r, Err(Broken::RxChainTooLong));
    assert_broken(&mut d, Broken::RxChainTooLong);
}

#[test]
fn rx_status_that_is_no_netif_rsp() {
    let (mut d, r) = rx_with(NetHostile::RxBadStatus, 60);
    assert_eq!(r, Err(Broken::RxBadStatus(-7)));
    assert_broken(&mut d, Broken::RxBadStatus(-7));
}

#[test]
fn rx_extra_info_of_an_invalid_type() {
    let (mut d, r) = rx_with(NetHostile::RxBadExtra, 60);
    assert_eq!(r, Err(Broken::RxBadExtra(9)));
    assert_broken(&mut d, Broken::RxBadExtra(9));
}

#[test]
fn rx_never_ending_extra_info_chain() {
    let (mut d, r) = rx_with(NetHostile::RxEndlessExtras, 60);
    assert_eq!(r, Err(Broken::RxTooManyExtras));
    assert_broken(&mut d, Broken::RxTooManyExtras);
}

#[test]
fn rx_rsp_prod_jump() {
    let (mut d, r) = rx_with(NetHostile::RxRspProdJump, 60);
    let Err(b @ Broken::RxRing(RingError::ResponseOverflow { .. })) = r else {
        panic!("{r:?}")
    };
    assert_broken(&mut d, b);
}

#[test]
fn rx_error_status_drops_the_packet_only() {
    let (mut d, r) = rx_with(NetHostile::RxErrorStatus, 60);
    assert_eq!(r, Ok(Work::Idle));
    assert_eq!(d.dev.rx_packet(), Ok(None));
    assert_eq!(d.dev.stats().rx.errors, 1);
    d.nb.deliver_rx(&frame(70, 4), RxMeta::default()).unwrap();
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(70, 4));
    assert_eq!(d.dev.rx_posted(), 64);
}

#[test]
fn tx_pages_still_mapped_are_not_revoked_or_reused() {
    let mut d = direct(
        Config {
            tx_buffers: 2,
            rx_buffers: 4,
            ..Config::default()
        },
        NetbackConfig::default(),
    );
    let base = d.baseline();
    d.nb.push_hostile(NetHostile::HoldGrants);
    send(&mut d.dev, &frame(60, 1), TxMeta::default()).unwrap();
    send(&mut d.dev, &frame(60, 2), TxMeta::default()).unwrap();
    assert_eq!(d.nb.process_tx().len(), 2);
    assert_eq!(d.nb.held_grants(), 2);
    assert_eq!(d.dev.on_event(), Ok(Work::Idle));
    assert_eq!(d.dev.tx_in_flight(), 0);
    assert_eq!(d.dev.quarantined(), 2, "revoke failed: pages held");
    assert_eq!(d.dev.stats().tx.deferred_revokes, 2);
    assert_eq!(d.grants.active(), base + 2);
    // Held pages are not reused: nothing can be sent.
    assert!(!d.dev.tx_ready(60));
    assert_eq!(
        send(&mut d.dev, &frame(60, 3), TxMeta::default()),
        Err(TxError::NoBuffer)
    );
    // Retries keep failing while mapped.
    d.dev.on_event().unwrap();
    assert_eq!(d.dev.quarantined(), 2);
    d.nb.release_grants();
    d.dev.on_event().unwrap();
    assert_eq!(d.dev.quarantined(), 0);
    assert_eq!(d.grants.active(), base);
    send(&mut d.dev, &frame(60, 3), TxMeta::default()).unwrap();
    assert_eq!(d.nb.process_tx()[0].data, frame(60, 3));
    assert_eq!(d.dev.broken(), None);
}

#[test]
fn rx_pages_still_mapped_are_not_reposted() {
    let mut d = direct(
        Config {
            rx_buffers: 4,
            ..Config::default()
        },
        NetbackConfig::default(),
    );
    d.nb.push_hostile(NetHostile::HoldGrants);
    d.nb.deliver_rx(&frame(100, 1), RxMeta::default()).unwrap();
    d.nb.deliver_rx(&frame(100, 2), RxMeta::default()).unwrap();
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(100, 1));
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(100, 2));
    assert_eq!(d.dev.quarantined(), 2);
    assert_eq!(d.dev.rx_posted(), 2, "held pages are not posted again");
    assert_eq!(d.nb.rx_available(), 2);
    d.nb.release_grants();
    d.dev.on_event().unwrap();
    assert_eq!(d.dev.quarantined(), 0);
    assert_eq!(d.dev.rx_posted(), 4);
    assert_eq!(d.nb.rx_available(), 4);
}

#[test]
fn close_leaks_pages_the_backend_still_maps() {
    let mut d = setup();
    d.nb.push_hostile(NetHostile::HoldGrants);
    send(&mut d.dev, &frame(60, 1), TxMeta::default()).unwrap();
    d.nb.process_tx();
    d.dev.on_event().unwrap();
    d.nb.detach_rings_only();
    let report = d.dev.close();
    assert_eq!(report.leaked_pages, 1, "the held tx page");
    assert_eq!(d.grants.active(), 1);
}

const MODES: [NetHostile; 14] = [
    NetHostile::TxBadId,
    NetHostile::TxDuplicateId,
    NetHostile::TxBadStatus,
    NetHostile::TxErrorStatus,
    NetHostile::TxSpuriousNull,
    NetHostile::TxRspProdJump,
    NetHostile::RxBadId,
    NetHostile::RxOffsetBeyondPage,
    NetHostile::RxEndlessMoreData,
    NetHostile::RxErrorStatus,
    NetHostile::RxBadStatus,
    NetHostile::RxBadExtra,
    NetHostile::RxEndlessExtras,
    NetHostile::RxRspProdJump,
];

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    Deliver(usize),
    ProcessTx,
    Event,
    Take,
    Hostile(usize),
    Hold,
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..20_000).prop_map(Op::Send),
        (0usize..20_000).prop_map(Op::Deliver),
        Just(Op::ProcessTx),
        Just(Op::Event),
        Just(Op::Take),
        (0..MODES.len()).prop_map(Op::Hostile),
        Just(Op::Hold),
        Just(Op::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any interleaving of traffic and misbehaviour: no panic, a broken device stays broken with the same
    /// reason, packets that arrive are the ones sent, and once the backend lets go every grant but the
    /// resting ones is revoked.
    #[test]
    fn random_hostile_sessions(ops in proptest::collection::vec(op(), 1..60)) {
        let mut d = direct(
            Config { rx_buffers: 32, tx_buffers: 16, ..Config::default() },
            NetbackConfig::default(),
        );
        let mut broken = None;
        let mut delivered = std::collections::VecDeque::new();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Send(len) => {
                    let r = send(&mut d.dev, &frame(*len, i as u8), TxMeta::default());
                    if let Err(TxError::Broken(b)) = r { prop_assert_eq!(Some(b), broken.or(Some(b))); }
                }
                Op::Deliver(len) => {
                    if d.nb.deliver_rx(&frame(*len, i as u8), RxMeta::default()).is_ok() {
                        delivered.push_back(frame(*len, i as u8));
                    }
                }
                Op::ProcessTx => { d.nb.process_tx(); }
                Op::Event => { let _ = d.dev.on_event(); }
                Op::Take => {
                    if let Ok(Some(p)) = d.dev.rx_packet() {
                        // Packets arrive in order; hostile rx modes may drop some in between.
                        while delivered.front().is_some_and(|f| *f != p.data) { delivered.pop_front(); }
                        prop_assert_eq!(delivered.pop_front(), Some(p.data));
                    }
                }
                Op::Hostile(m) => d.nb.push_hostile(MODES[*m]),
                Op::Hold => d.nb.push_hostile(NetHostile::HoldGrants),
                Op::Release => d.nb.release_grants(),
            }
            if let Some(b) = broken {
                prop_assert_eq!(d.dev.broken(), Some(b), "a broken device stays broken");
            }
            broken = d.dev.broken();
        }
        d.nb.release_grants();
        let _ = d.dev.on_event();
        if d.dev.broken().is_none() {
            d.nb.process_tx();
            let _ = d.dev.on_event();
            let _ = d.dev.on_event();
        }
        d.nb.detach();
        d.dev.close();
        prop_assert_eq!(d.grants.active(), 0, "every grant revoked once the backend let go");
    }
}

mod garbage {
    use super::*;
    use netfront::RX_RING_SIZE;
    use xen_traits::{DomId, SharedPage};
    use xenbus::front_ring::layout;

    #[derive(Clone, Debug)]
    enum Step {
        /// Write raw response bytes into the next rx slots and advance `rsp_prod` by `advance`.
        Rx(Vec<[u8; 8]>, u32),
        /// Same on the tx ring.
        Tx(Vec<[u8; 4]>, u32),
        Send(usize),
        Event,
        Take,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (
                proptest::collection::vec(any::<[u8; 8]>(), 0..24),
                prop_oneof![0u32..24, any::<u32>()]
            )
                .prop_map(|(r, a)| Step::Rx(r, a)),
            (
                proptest::collection::vec(any::<[u8; 4]>(), 0..24),
                prop_oneof![0u32..24, any::<u32>()]
            )
                .prop_map(|(r, a)| Step::Tx(r, a)),
            (14usize..10_000).prop_map(Step::Send),
            Just(Step::Event),
            Just(Step::Take),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// A backend that writes arbitrary bytes as responses and arbitrary producer indices: the driver
        /// never panics, a broken device stays broken, and every grant is revoked at close.
        #[test]
        fn arbitrary_response_bytes(steps in proptest::collection::vec(step(), 1..40)) {
            let d = direct(
                Config { rx_buffers: 64, tx_buffers: 16, ..Config::default() },
                NetbackConfig::default(),
            );
            let (mut dev, mut nb, grants) = (d.dev, d.nb, d.grants);
            // Play the backend by hand on the raw ring pages.
            nb.detach();
            let rx = grants.map(DomId::DOM0, dev.rx_ring_ref(), true).unwrap();
            let tx = grants.map(DomId::DOM0, dev.tx_ring_ref(), true).unwrap();
            let mut broken = None;
            for s in &steps {
                match s {
                    Step::Rx(rsps, advance) => {
                        let prod = rx.read_u32(layout::RSP_PROD);
                        for (i, r) in rsps.iter().enumerate() {
                            let idx = prod.wrapping_add(i as u32) % RX_RING_SIZE;
                            rx.write_bytes(layout::RING + idx as usize * 8, r);
                        }
                        rx.store_release_u32(layout::RSP_PROD, prod.wrapping_add(*advance));
                    }
                    Step::Tx(rsps, advance) => {
                        let prod = tx.read_u32(layout::RSP_PROD);
                        for (i, r) in rsps.iter().enumerate() {
                            let idx = prod.wrapping_add(i as u32) % 256;
                            tx.write_bytes(layout::RING + idx as usize * 12, r);
                        }
                        tx.store_release_u32(layout::RSP_PROD, prod.wrapping_add(*advance));
                    }
                    Step::Send(len) => { let _ = send(&mut dev, &frame(*len, 0), TxMeta::default()); }
                    Step::Event => { let _ = dev.on_event(); }
                    Step::Take => { let _ = dev.rx_packet(); }
                }
                if let Some(b) = broken {
                    prop_assert_eq!(dev.broken(), Some(b));
                }
                broken = dev.broken();
            }
            grants.unmap(dev.rx_ring_ref());
            grants.unmap(dev.tx_ring_ref());
            prop_assert_eq!(dev.close().leaked_pages, 0);
            prop_assert_eq!(grants.active(), 0);
        }
    }
}
