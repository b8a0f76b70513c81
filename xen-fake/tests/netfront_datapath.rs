//! The netfront datapath against the fake netback: tx/rx round trips (single and multi-slot, GSO,
//! checksum flags), ring full and no-buffer paths, ring index wrap-around, grant lifetimes.

mod netfront_common;

use netfront::wire::{
    ExtraInfo, NETRXF_CSUM_BLANK, NETRXF_DATA_VALIDATED, NETTXF_CSUM_BLANK, NETTXF_DATA_VALIDATED,
    NETTXF_EXTRA_INFO,
};
use netfront::{Config, Gso, GsoType, RxChecksum, TxChecksum, TxError, TxMeta, Work, RX_RING_SIZE};
use netfront_common::{direct, frame, send};
use xen_fake::netback::{RxMeta, RxRefused};
use xen_fake::{GrantCall, NetbackConfig};

fn small() -> Config {
    Config {
        rx_buffers: 16,
        tx_buffers: 16,
        ..Config::default()
    }
}

#[test]
fn setup_posts_rx_buffers_and_grants_rings() {
    let d = direct(small(), NetbackConfig::default());
    assert_eq!(d.dev.rx_posted(), 16);
    assert_eq!(d.grants.active(), 2 + 16);
    assert_eq!(d.dev.mac(), NetbackConfig::default().mac);
    // Rx buffers are granted writable, ring pages writable too.
    let grants: Vec<_> = d.grants.calls();
    assert!(grants
        .iter()
        .all(|c| matches!(c, GrantCall::Grant(dom, _, false, Ok(_)) if dom.0 == 0)));
}

#[test]
fn tx_single_slot_round_trip() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    let f = frame(1514, 1);
    assert!(d.dev.tx_ready(1514));
    send(&mut d.dev, &f, TxMeta::default()).unwrap();
    assert!(d.nb.take_notification(), "the backend was notified");
    assert_eq!(d.dev.tx_in_flight(), 1);
    assert_eq!(d.grants.active(), base + 1, "the packet's page is granted");
    let pkts = d.nb.process_tx();
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].data, f);
    assert_eq!(pkts[0].flags, 0);
    assert_eq!(pkts[0].slots, 1);
    assert!(d.guest.take_pending(d.dev.port()), "backend notified us");
    d.dev.on_event().unwrap();
    assert_eq!(d.dev.tx_in_flight(), 0);
    assert_eq!(d.grants.active(), base, "the page's grant was revoked");
    assert_eq!(d.dev.stats().tx.packets, 1);
    assert_eq!(d.dev.stats().tx.bytes, 1514);
    assert!(d.nb.errors().is_empty(), "{:?}", d.nb.errors());
    // Tx pages are granted read-only.
    assert!(d
        .grants
        .calls()
        .iter()
        .any(|c| matches!(c, GrantCall::Grant(_, _, true, Ok(_)))));
}

#[test]
fn tx_a_built_frame_goes_out_as_transmit_would_send_it() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    let f = frame(9000, 5);
    let meta = TxMeta { checksum: TxChecksum::Blank, gso: None };
    d.dev.transmit_frame(&f, meta).unwrap();
    assert_eq!(d.dev.tx_in_flight(), 3);
    assert_eq!(d.dev.transmit_frame(&f[..10], meta), Err(TxError::TooShort));
    assert_eq!(d.dev.transmit_frame(&[], meta), Err(TxError::Empty));
    let pkts = d.nb.process_tx();
    assert!(d.nb.errors().is_empty(), "{:?}", d.nb.errors());
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].data, f);
    assert_eq!(pkts[0].slots, 3);
    assert_eq!(pkts[0].flags, NETTXF_CSUM_BLANK | NETTXF_DATA_VALIDATED | 4);
    d.dev.on_event().unwrap();
    assert_eq!(d.grants.active(), base);
    assert_eq!(d.dev.tx_in_flight(), 0);
}

#[test]
fn tx_multi_slot_and_checksum_flags() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    let f = frame(9000, 2);
    send(
        &mut d.dev,
        &f,
        TxMeta {
            checksum: TxChecksum::Blank,
            gso: None,
        },
    )
    .unwrap();
    assert_eq!(d.dev.tx_in_flight(), 3);
    let g = frame(100, 3);
    send(
        &mut d.dev,
        &g,
        TxMeta {
            checksum: TxChecksum::Validated,
            gso: None,
        },
    )
    .unwrap();
    let pkts = d.nb.process_tx();
    assert!(d.nb.errors().is_empty(), "{:?}", d.nb.errors());
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].data, f);
    assert_eq!(pkts[0].slots, 3);
    assert_eq!(pkts[0].flags, NETTXF_CSUM_BLANK | NETTXF_DATA_VALIDATED | 4);
    assert_eq!(pkts[1].data, g);
    assert_eq!(pkts[1].flags, NETTXF_DATA_VALIDATED);
    d.dev.on_event().unwrap();
    assert_eq!(d.grants.active(), base);
    assert_eq!(d.dev.tx_in_flight(), 0);
}

#[test]
fn tx_gso_sends_an_extra_slot_and_takes_its_null_response() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    let f = frame(30_000, 4);
    let gso = Gso {
        mss: 1448,
        kind: GsoType::TcpV4,
    };
    // GSO needs a blank checksum.
    assert_eq!(
        send(
            &mut d.dev,
            &f,
            TxMeta {
                checksum: TxChecksum::Complete,
                gso: Some(gso)
            }
        ),
        Err(TxError::GsoUnsupported)
    );
    // TCPv6 GSO is not offered.
    assert_eq!(
        send(
            &mut d.dev,
            &f,
            TxMeta {
                checksum: TxChecksum::Blank,
                gso: Some(Gso {
                    mss: 1440,
                    kind: GsoType::TcpV6
                })
            }
        ),
        Err(TxError::GsoUnsupported)
    );
    send(
        &mut d.dev,
        &f,
        TxMeta {
            checksum: TxChecksum::Blank,
            gso: Some(gso),
        },
    )
    .unwrap();
    let pkts = d.nb.process_tx();
    assert!(d.nb.errors().is_empty(), "{:?}", d.nb.errors());
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].data, f);
    assert_eq!(pkts[0].slots, 8 + 1);
    assert_ne!(pkts[0].flags & NETTXF_EXTRA_INFO, 0);
    assert_eq!(pkts[0].extras, vec![ExtraInfo::gso(1448, GsoType::TcpV4)]);
    assert_eq!(d.dev.on_event(), Ok(Work::Idle));
    assert_eq!(d.dev.broken(), None);
    assert_eq!(d.grants.active(), base);
}

#[test]
fn tx_gso_refused_when_the_backend_does_not_offer_it() {
    let mut d = direct(
        small(),
        NetbackConfig {
            gso_tcpv4: false,
            ..NetbackConfig::default()
        },
    );
    let r = send(
        &mut d.dev,
        &frame(20_000, 0),
        TxMeta {
            checksum: TxChecksum::Blank,
            gso: Some(Gso {
                mss: 1448,
                kind: GsoType::TcpV4,
            }),
        },
    );
    assert_eq!(r, Err(TxError::GsoUnsupported));
    assert_eq!(d.dev.tx_in_flight(), 0);
}

#[test]
fn tx_length_limits() {
    let mut d = direct(small(), NetbackConfig::default());
    assert_eq!(d.dev.max_tx_len(), 0xffff);
    assert_eq!(
        send(&mut d.dev, &[], TxMeta::default()),
        Err(TxError::Empty)
    );
    assert_eq!(
        send(&mut d.dev, &frame(13, 0), TxMeta::default()),
        Err(TxError::TooShort)
    );
    assert!(!d.dev.tx_ready(13));
    assert_eq!(
        d.dev.transmit(0x10000, TxMeta::default(), |_| ()),
        Err(TxError::TooLong)
    );
    assert!(!d.dev.tx_ready(0x10000));
    send(&mut d.dev, &frame(0xffff, 9), TxMeta::default()).unwrap();
    let pkts = d.nb.process_tx();
    assert_eq!(pkts[0].data, frame(0xffff, 9));
    assert_eq!(pkts[0].slots, 16);

    let mut d = direct(
        small(),
        NetbackConfig {
            sg: false,
            ..NetbackConfig::default()
        },
    );
    assert_eq!(d.dev.max_tx_len(), 4096);
    assert_eq!(
        send(&mut d.dev, &frame(4097, 0), TxMeta::default()),
        Err(TxError::TooLong)
    );
    send(&mut d.dev, &frame(4096, 0), TxMeta::default()).unwrap();
    assert_eq!(d.nb.process_tx()[0].data, frame(4096, 0));
}

#[test]
fn tx_no_buffer_until_responses_free_pages() {
    let mut d = direct(
        Config {
            tx_buffers: 4,
            ..small()
        },
        NetbackConfig::default(),
    );
    for i in 0..4 {
        send(&mut d.dev, &frame(60, i), TxMeta::default()).unwrap();
    }
    assert!(!d.dev.tx_ready(60));
    let mut called = false;
    assert_eq!(
        d.dev.transmit(60, TxMeta::default(), |_| called = true),
        Err(TxError::NoBuffer)
    );
    assert!(
        !called,
        "the closure is not called when nothing can be sent"
    );
    // A 2-page packet does not fit even after one page frees up.
    assert_eq!(d.nb.process_tx().len(), 4);
    assert!(
        d.dev.tx_ready(60),
        "tx_ready reclaims completed slots itself"
    );
    send(&mut d.dev, &frame(8000, 1), TxMeta::default()).unwrap();
    send(&mut d.dev, &frame(8000, 2), TxMeta::default()).unwrap();
    assert_eq!(
        send(&mut d.dev, &frame(60, 3), TxMeta::default()),
        Err(TxError::NoBuffer)
    );
}

#[test]
fn tx_ring_full() {
    // More pages than ring slots: the ring (and the id table) is the limit.
    let mut d = direct(
        Config {
            tx_buffers: 300,
            ..small()
        },
        NetbackConfig::default(),
    );
    for i in 0..256u32 {
        send(&mut d.dev, &frame(60, i as u8), TxMeta::default()).unwrap();
    }
    assert_eq!(d.dev.tx_in_flight(), 256);
    assert_eq!(
        send(&mut d.dev, &frame(60, 0), TxMeta::default()),
        Err(TxError::NoBuffer)
    );
    let pkts = d.nb.process_tx();
    assert_eq!(pkts.len(), 256);
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.data, frame(60, i as u8));
    }
    send(&mut d.dev, &frame(60, 0), TxMeta::default()).unwrap();
    assert_eq!(d.dev.tx_in_flight(), 1);
}

#[test]
fn rx_round_trip_with_checksum_states() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    assert_eq!(d.dev.rx_packet(), Ok(None));
    let cases = [
        (0, RxChecksum::Unknown),
        (NETRXF_DATA_VALIDATED, RxChecksum::Validated),
        (NETRXF_CSUM_BLANK | NETRXF_DATA_VALIDATED, RxChecksum::Blank),
    ];
    for (i, (flags, want)) in cases.into_iter().enumerate() {
        let f = frame(60 + 700 * i, i as u8);
        d.nb.deliver_rx(&f, RxMeta { flags, gso: None }).unwrap();
        assert!(d.guest.take_pending(d.dev.port()), "frontend notified");
        assert_eq!(d.dev.on_event(), Ok(Work::More), "a packet waits");
        let p = d.dev.rx_packet().unwrap().unwrap();
        assert_eq!(p.data, f);
        assert_eq!(p.checksum, want);
        assert_eq!(p.gso, None);
        assert_eq!(d.dev.rx_packet(), Ok(None));
        assert_eq!(d.dev.on_event(), Ok(Work::Idle));
    }
    assert_eq!(d.dev.rx_posted(), 16, "refilled");
    assert_eq!(d.grants.active(), base);
    assert_eq!(d.dev.stats().rx.packets, 3);
    assert!(d.nb.errors().is_empty());
}

#[test]
fn rx_multi_slot_and_gso() {
    let mut d = direct(
        Config {
            rx_gso_tcpv4: true,
            ..small()
        },
        NetbackConfig::default(),
    );
    let f = frame(10_000, 5);
    d.nb.deliver_rx(&f, RxMeta::default()).unwrap();
    let g = frame(20_000, 6);
    d.nb.deliver_rx(
        &g,
        RxMeta {
            flags: NETRXF_CSUM_BLANK | NETRXF_DATA_VALIDATED,
            gso: Some((1448, 1)),
        },
    )
    .unwrap();
    let p = d.dev.rx_packet().unwrap().unwrap();
    assert_eq!(p.data, f);
    let q = d.dev.rx_packet().unwrap().unwrap();
    assert_eq!(q.data, g);
    assert_eq!(q.checksum, RxChecksum::Blank);
    assert_eq!(
        q.gso,
        Some(Gso {
            mss: 1448,
            kind: GsoType::TcpV4
        })
    );
    assert_eq!(d.dev.broken(), None);
    assert_eq!(d.dev.rx_posted(), 16);
}

#[test]
fn rx_without_sg_refuses_multi_slot() {
    let mut d = direct(
        Config {
            rx_sg: false,
            ..small()
        },
        NetbackConfig::default(),
    );
    assert_eq!(
        d.nb.deliver_rx(&frame(5000, 0), RxMeta::default()),
        Err(RxRefused::NeedsSg)
    );
    d.nb.deliver_rx(&frame(4096, 0), RxMeta::default()).unwrap();
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(4096, 0));
}

#[test]
fn rx_no_buffer_and_queue_limit() {
    let mut d = direct(
        Config {
            rx_buffers: 3,
            rx_queue_limit: 2,
            ..small()
        },
        NetbackConfig::default(),
    );
    for i in 0..3 {
        d.nb.deliver_rx(&frame(100, i), RxMeta::default()).unwrap();
    }
    assert_eq!(
        d.nb.deliver_rx(&frame(100, 9), RxMeta::default()),
        Err(RxRefused::NoBuffer),
        "every buffer is in use"
    );
    // on_event takes only up to the queue limit: the third stays on the ring.
    assert_eq!(d.dev.on_event(), Ok(Work::More));
    assert_eq!(
        d.nb.rx_available(),
        2,
        "the two freed buffers were reposted"
    );
    for i in 0..3 {
        assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(100, i));
    }
    assert_eq!(d.dev.rx_packet(), Ok(None));
    assert_eq!(d.dev.rx_posted(), 3);
    assert_eq!(d.nb.rx_available(), 3);
    d.nb.deliver_rx(&frame(100, 9), RxMeta::default()).unwrap();
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(100, 9));
}

#[test]
fn ring_indices_wrap_around() {
    let mut d = direct(
        Config {
            ring_start: u32::MAX - 40,
            rx_buffers: RX_RING_SIZE as usize,
            tx_buffers: 64,
            ..Config::default()
        },
        NetbackConfig::default(),
    );
    let base = d.baseline();
    for round in 0..600usize {
        let len = [60, 1514, 4096, 4097, 9000][round % 5];
        let f = frame(len, round as u8);
        send(&mut d.dev, &f, TxMeta::default()).unwrap();
        d.nb.deliver_rx(&f, RxMeta::default()).unwrap();
        if round % 7 == 6 || round == 599 {
            let pkts = d.nb.process_tx();
            assert!(!pkts.is_empty());
            d.dev.on_event().unwrap();
        }
        assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, f, "round {round}");
    }
    assert!(d.nb.errors().is_empty(), "{:?}", d.nb.errors());
    d.dev.on_event().unwrap();
    assert_eq!(d.dev.broken(), None);
    assert_eq!(d.dev.tx_in_flight(), 0);
    assert_eq!(d.grants.active(), base, "no grant leaked");
    let stats = d.dev.stats();
    assert_eq!((stats.tx.packets, stats.rx.packets), (600, 600));
}

#[test]
fn no_grant_leak_after_many_packets() {
    let mut d = direct(small(), NetbackConfig::default());
    let base = d.baseline();
    for i in 0..2000usize {
        let f = frame(60 + (i * 37) % 3000, i as u8);
        send(&mut d.dev, &f, TxMeta::default()).unwrap();
        assert_eq!(d.nb.process_tx()[0].data, f);
        d.nb.deliver_rx(&f, RxMeta::default()).unwrap();
        d.dev.on_event().unwrap();
        assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, f);
    }
    assert_eq!(d.grants.active(), base);
    let calls = d.grants.calls();
    let grants = calls
        .iter()
        .filter(|c| matches!(c, GrantCall::Grant(..)))
        .count();
    let revokes = calls
        .iter()
        .filter(|c| matches!(c, GrantCall::Revoke(_, Ok(()))))
        .count();
    assert_eq!(grants - revokes, base, "every other grant was revoked");
}

#[test]
fn close_revokes_every_grant_once_the_backend_let_go() {
    let mut d = direct(small(), NetbackConfig::default());
    send(&mut d.dev, &frame(3000, 0), TxMeta::default()).unwrap();
    d.nb.detach();
    let report = d.dev.close();
    assert_eq!(report.leaked_pages, 0);
    assert_eq!(d.grants.active(), 0);

    // Closing while the backend still maps the rings leaks them rather than freeing them.
    let d = direct(small(), NetbackConfig::default());
    let report = d.dev.close();
    assert_eq!(report.leaked_pages, 2);
    assert_eq!(d.grants.active(), 2, "only the mapped rings stay granted");
}

#[test]
fn dropping_the_device_revokes_its_grants() {
    let mut d = direct(small(), NetbackConfig::default());
    d.nb.detach();
    drop(d.dev);
    assert_eq!(d.grants.active(), 0);
}

/// A UDP/IPv4 frame whose checksum field holds junk, as a sender with checksum offload leaves it.
fn udp_frame_with_blank_checksum(payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 99, 0, 1, 10, 99, 0, 100]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x07]);
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0x55, 0xaa]);
    f.extend_from_slice(payload);
    f
}

/// Receiver-side verification, independent of netfront's code: the ones' complement sum over the
/// pseudo-header and the UDP segment is 0xffff.
fn udp_checksum_verifies(f: &[u8]) -> bool {
    let seg = &f[34..];
    let mut words: Vec<u16> = f[26..34]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    words.push(17);
    words.push(seg.len() as u16);
    let mut padded = seg.to_vec();
    if padded.len() % 2 == 1 {
        padded.push(0);
    }
    words.extend(padded.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])));
    let mut s: u32 = words.iter().map(|&w| u32::from(w)).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

#[test]
fn blank_rx_checksums_are_completed_on_request() {
    let mut d = direct(small(), NetbackConfig::default());
    let f = udp_frame_with_blank_checksum(b"echo me, please");
    assert!(!udp_checksum_verifies(&f));
    d.nb.deliver_rx(
        &f,
        RxMeta {
            flags: NETRXF_CSUM_BLANK | NETRXF_DATA_VALIDATED,
            gso: None,
        },
    )
    .unwrap();
    let mut p = d.dev.rx_packet().unwrap().unwrap();
    assert_eq!(p.checksum, RxChecksum::Blank);
    p.complete_checksum().unwrap();
    assert_eq!(p.checksum, RxChecksum::Validated);
    assert!(udp_checksum_verifies(&p.data));
    assert_eq!(p.data[..40], f[..40], "only the checksum field changed");
    assert_eq!(p.data[42..], f[42..]);

    // A frame that arrives complete is left alone.
    d.nb.deliver_rx(&f, RxMeta::default()).unwrap();
    let mut q = d.dev.rx_packet().unwrap().unwrap();
    q.complete_checksum().unwrap();
    assert_eq!(q.data, f);
    assert_eq!(q.checksum, RxChecksum::Unknown);
}

#[test]
fn no_packet_and_no_room_are_safe_points_to_wait_for_an_event() {
    let mut d = direct(
        Config {
            tx_buffers: 4,
            ..small()
        },
        NetbackConfig::default(),
    );
    let port = d.dev.port();
    // Receive side: after rx_packet returned None, the next delivery notifies us.
    for i in 0..3u8 {
        d.nb.deliver_rx(&frame(100, i), RxMeta::default()).unwrap();
        assert!(d.guest.take_pending(port), "notified for packet {i}");
        assert_eq!(d.dev.on_event(), Ok(Work::More));
        assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(100, i));
        assert_eq!(d.dev.rx_packet(), Ok(None));
    }
    // Transmit side: after tx_ready said no, the backend's completions notify us.
    for round in 0..3u8 {
        while d.dev.tx_ready(60) {
            send(&mut d.dev, &frame(60, round), TxMeta::default()).unwrap();
        }
        assert!(!d.guest.take_pending(port));
        assert_eq!(d.nb.process_tx().len(), 4);
        assert!(
            d.guest.take_pending(port),
            "notified of completions, round {round}"
        );
    }
}

mod wrap {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any start index (wrapping within the run or not), any mix of sizes and batching: every frame
        /// arrives intact in both directions and every packet's grant is revoked.
        #[test]
        fn any_start_index_any_traffic(
            start in prop_oneof![any::<u32>(), (u32::MAX - 300)..=u32::MAX],
            sizes in proptest::collection::vec(14usize..20_000, 1..150),
            batch in 1usize..40,
        ) {
            let mut d = direct(
                Config { ring_start: start, rx_buffers: 128, tx_buffers: 48, ..Config::default() },
                NetbackConfig::default(),
            );
            let base = d.baseline();
            let mut pending_tx = Vec::new();
            for (i, &len) in sizes.iter().enumerate() {
                let f = frame(len, i as u8);
                if !d.dev.tx_ready(len) {
                    for p in d.nb.process_tx() { prop_assert_eq!(Some(p.data), pending_tx.pop()); }
                    d.dev.on_event().unwrap();
                }
                send(&mut d.dev, &f, TxMeta::default()).unwrap();
                pending_tx.insert(0, f.clone());
                d.nb.deliver_rx(&f, RxMeta::default()).unwrap();
                prop_assert_eq!(d.dev.rx_packet().unwrap().map(|p| p.data), Some(f));
                if i % batch == 0 {
                    for p in d.nb.process_tx() { prop_assert_eq!(Some(p.data), pending_tx.pop()); }
                    d.dev.on_event().unwrap();
                }
            }
            for p in d.nb.process_tx() { prop_assert_eq!(Some(p.data), pending_tx.pop()); }
            prop_assert!(pending_tx.is_empty());
            d.dev.on_event().unwrap();
            prop_assert!(d.nb.errors().is_empty());
            prop_assert_eq!(d.grants.active(), base);
        }
    }
}

#[test]
fn runt_frames_are_dropped_and_counted() {
    let mut d = direct(small(), NetbackConfig::default());
    d.nb.deliver_rx(&[], RxMeta::default()).unwrap();
    d.nb.deliver_rx(&frame(13, 0), RxMeta::default()).unwrap();
    d.nb.deliver_rx(&frame(14, 0), RxMeta::default()).unwrap();
    assert_eq!(d.dev.rx_packet().unwrap().unwrap().data, frame(14, 0));
    assert_eq!(d.dev.rx_packet(), Ok(None));
    assert_eq!(d.dev.stats().rx.errors, 2);
    assert_eq!(d.dev.rx_posted(), 16);
}
