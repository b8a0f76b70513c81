//! blkfront's xenbus handshake against the fake blkback: ring geometry, keys, states, disk description,
//! features, failures and their cleanup.

mod blkfront_util;

use std::pin::pin;
use std::task::Poll;

use blkfront::{Config, ConnectError, FlushMode, Op};
use blkfront_util::{finish, io, pattern};
use xen_fake::{poll_once, BackFlush, BlkSetup, BlkbackConfig, Call, FakePages, GrantCall};
use xen_traits::GrantRef;
use xenbus::XenbusState;

fn front(s: &BlkSetup, k: &str) -> Option<String> {
    s.daemon
        .value(&format!("{}/{k}", s.back.front_path()))
        .map(|v| String::from_utf8(v).unwrap())
}

#[test]
fn multi_page_ring_when_offered() {
    let (s, blk) = BlkSetup::connected(BlkbackConfig::default());
    // Backend offers order 4; our default cap is 2.
    assert_eq!(front(&s, "ring-page-order").as_deref(), Some("2"));
    assert_eq!(front(&s, "ring-ref"), None);
    let refs: Vec<GrantRef> = (0..4)
        .map(|i| GrantRef(front(&s, &format!("ring-ref{i}")).unwrap().parse().unwrap()))
        .collect();
    assert_eq!(refs, blk.ring_grefs());
    assert_eq!(s.back.ring_grefs(), &refs[..]);
    assert_eq!(front(&s, "ring-ref4"), None);
    assert_eq!(front(&s, "protocol").as_deref(), Some("x86_64-abi"));
    assert_eq!(
        front(&s, "event-channel").unwrap(),
        blk.port().0.to_string()
    );
    assert_eq!(front(&s, "state").as_deref(), Some("4"));
    assert_eq!(
        front(&s, "feature-large-sector-size"),
        None,
        "deprecated key not written"
    );
    assert_eq!(blk.ring_size(), 128);
    assert_eq!(s.back.ring_size(), Some(128));
    // Ring grants are writable grants to dom0 of the ring frames.
    let granted: Vec<_> = s
        .gnt
        .calls()
        .iter()
        .filter_map(|c| match c {
            GrantCall::Grant(d, pfn, ro, Ok(g)) => Some((*d, *pfn, *ro, *g)),
            _ => None,
        })
        .collect();
    assert_eq!(granted.len(), 4);
    for (i, (d, pfn, ro, g)) in granted.iter().enumerate() {
        assert_eq!((*d, *ro, *g), (xen_traits::DomId::DOM0, false, refs[i]));
        assert_eq!(*pfn, blk.ring_frames()[i]);
    }
    // The event channel was allocated for dom0 and unmasked.
    let calls = s.guest_evtchn.calls();
    assert!(calls.contains(&Call::AllocUnbound(xen_traits::DomId::DOM0, blk.port())));
    assert!(calls.contains(&Call::Unmask(blk.port())));
}

#[test]
fn ring_orders_follow_backend_and_config() {
    for (offered, cap, key, pages, slots) in [
        (None, 4, None, 1, 32),
        (Some(0), 4, None, 1, 32),
        (Some(1), 4, Some("1"), 2, 64),
        (Some(4), 4, Some("4"), 16, 512),
        (Some(3), 0, None, 1, 32),
    ] {
        let mut s = BlkSetup::new(BlkbackConfig {
            max_ring_page_order: offered,
            ..Default::default()
        });
        let mut blk = s
            .connect(Config {
                max_ring_page_order: cap,
                ..Default::default()
            })
            .unwrap()
            .unwrap();
        assert_eq!(front(&s, "ring-page-order").as_deref(), key);
        assert_eq!(front(&s, "ring-ref").is_some(), key.is_none());
        assert_eq!(blk.ring_grefs().len(), pages);
        assert_eq!(blk.ring_size(), slots);
        assert_eq!(s.back.ring_size(), Some(slots));
        // Fill the ring twice over: entries straddle page boundaries of multi-page rings.
        for round in 0..2u8 {
            let mut ids = Vec::new();
            for i in 0..slots as u64 {
                let data = pattern(i * 512, 512, round);
                ids.push(
                    blk.submit(Op::Write {
                        lba: i,
                        data: &data,
                    })
                    .unwrap(),
                );
            }
            s.back.process();
            assert_eq!(blk.handle_event(), slots as usize);
            for id in ids {
                finish(&mut blk, id, 0).unwrap();
            }
        }
        let all = io(
            &mut s,
            &mut blk,
            Op::Read {
                lba: 0,
                len: slots as usize * 512,
            },
        )
        .unwrap();
        assert_eq!(all, pattern(0, slots as usize * 512, 1));
    }
}

#[test]
fn disk_description_and_features() {
    for (ss, sectors) in [(512usize, 1000u64), (4096, 77)] {
        let (s, blk) = BlkSetup::connected(BlkbackConfig {
            sector_size: ss,
            sectors,
            removable: true,
            flush: BackFlush::Barrier,
            discard: false,
            max_indirect_segments: 64,
            ..Default::default()
        });
        assert_eq!(blk.sector_size(), ss);
        assert_eq!(blk.capacity(), sectors);
        // The backend's `sectors` key is in 512-byte units.
        let back_sectors: u64 = String::from_utf8(
            s.daemon
                .value(&format!("{}/sectors", s.back.back_path()))
                .unwrap(),
        )
        .unwrap()
        .parse()
        .unwrap();
        assert_eq!(back_sectors, sectors * ss as u64 / 512);
        let i = blk.info();
        assert_eq!(i.physical_sector_size as usize, ss);
        assert!(i.removable() && !i.read_only());
        assert_eq!(i.flush, FlushMode::WriteBarrier);
        assert_eq!(i.discard, None);
        assert_eq!(i.max_indirect_segments, 64);
        assert_eq!(blk.max_request_bytes(), 64 * 4096);
    }
}

/// Poll the handshake with only the daemon running (the backend does not follow), so the test can
/// act at the point the frontend waits for `Connected`.
fn until_stalled<F: std::future::Future>(
    fut: std::pin::Pin<&mut F>,
    daemon: &mut xen_fake::FakeXenstored,
) -> Option<F::Output> {
    let mut fut = fut;
    for _ in 0..50 {
        if let Poll::Ready(v) = poll_once(fut.as_mut()) {
            return Some(v);
        }
        if !daemon.run_until_idle() {
            if let Poll::Ready(v) = poll_once(fut.as_mut()) {
                return Some(v);
            }
            return None;
        }
    }
    panic!("handshake did not settle");
}

#[test]
fn backend_closing_during_handshake_fails_cleanly() {
    let mut s = BlkSetup::new(BlkbackConfig::default());
    let back_state = format!("{}/state", s.back.back_path());
    let r = {
        let fut = blkfront::connect(
            &s.client,
            s.device.clone(),
            s.gnt.clone(),
            s.guest_evtchn.clone(),
            s.pages.clone(),
            Config::default(),
        );
        let mut fut = pin!(fut);
        assert!(until_stalled(fut.as_mut(), &mut s.daemon).is_none());
        assert_eq!(
            s.daemon
                .value(&format!("{}/state", s.back.front_path()))
                .unwrap(),
            b"3",
            "Initialised, waiting for the backend"
        );
        assert_eq!(s.gnt.active(), 4, "ring granted");
        s.daemon.dom0_write(&back_state, b"5");
        until_stalled(fut.as_mut(), &mut s.daemon).expect("finished")
    };
    assert_eq!(
        r.err(),
        Some(ConnectError::Xenstore(xenbus::Error::BackendClosed(
            XenbusState::Closing
        )))
    );
    assert_eq!(s.gnt.active(), 0, "ring grants revoked");
    assert_eq!(
        (s.pages.allocated(), s.pages.freed()),
        (4, 4),
        "ring pages given back"
    );
    let port = s
        .guest_evtchn
        .calls()
        .iter()
        .find_map(|c| match c {
            Call::AllocUnbound(_, p) => Some(*p),
            _ => None,
        })
        .unwrap();
    assert!(s.guest_evtchn.calls().contains(&Call::Close(port)));
}

#[test]
fn unsupported_sector_size_is_refused() {
    let mut s = BlkSetup::new(BlkbackConfig::default());
    let back = s.back.back_path().to_string();
    let r = {
        let fut = blkfront::connect(
            &s.client,
            s.device.clone(),
            s.gnt.clone(),
            s.guest_evtchn.clone(),
            s.pages.clone(),
            Config::default(),
        );
        let mut fut = pin!(fut);
        assert!(until_stalled(fut.as_mut(), &mut s.daemon).is_none());
        // The backend connects but describes a disk we cannot drive.
        assert!(s.back.poll_xenstore(&mut s.daemon));
        s.daemon.dom0_write(&format!("{back}/sector-size"), b"1000");
        s.daemon.dom0_write(&format!("{back}/state"), b"4");
        until_stalled(fut.as_mut(), &mut s.daemon).expect("finished")
    };
    assert_eq!(r.err(), Some(ConnectError::UnsupportedSectorSize(1000)));
    assert_eq!(
        s.daemon
            .value(&format!("{}/state", s.back.front_path()))
            .unwrap(),
        b"3",
        "never claimed Connected"
    );
    // The backend still maps the ring: its grants cannot be revoked (and are not reused).
    assert!(s.gnt.calls().iter().any(|c| matches!(
        c,
        GrantCall::Revoke(_, Err(xen_traits::RevokeError::StillInUse))
    )));
}

#[test]
fn missing_keys_and_no_memory() {
    let mut s = BlkSetup::new(BlkbackConfig::default());
    let back = s.back.back_path().to_string();
    let r = {
        let fut = blkfront::connect(
            &s.client,
            s.device.clone(),
            s.gnt.clone(),
            s.guest_evtchn.clone(),
            s.pages.clone(),
            Config::default(),
        );
        let mut fut = pin!(fut);
        assert!(until_stalled(fut.as_mut(), &mut s.daemon).is_none());
        assert!(s.back.poll_xenstore(&mut s.daemon));
        s.daemon.dom0_rm(&format!("{back}/info"));
        until_stalled(fut.as_mut(), &mut s.daemon).expect("finished")
    };
    assert_eq!(r.err(), Some(ConnectError::BadBackendKey("info")));

    let mut s = BlkSetup::new(BlkbackConfig::default());
    s.pages = FakePages::with_limit(s.memory.clone(), 2);
    let r = s.connect(Config::default()).unwrap();
    assert_eq!(r.err(), Some(ConnectError::NoMemory));
    assert_eq!(s.gnt.active(), 0);
    assert!(!s.back.connected());
}

#[test]
fn disconnect_fails_in_flight_requests_and_releases_everything() {
    let (mut s, mut blk) = BlkSetup::connected(BlkbackConfig::default());
    let ring_pages = s.pages.live();
    io(
        &mut s,
        &mut blk,
        Op::Write {
            lba: 0,
            data: &[1u8; 4096],
        },
    )
    .unwrap();
    let pending = blk.submit(Op::Read { lba: 0, len: 8192 }).unwrap();
    assert_eq!(s.gnt.active(), 4 + 2);
    assert_eq!(s.disconnect(&mut blk).unwrap(), Ok(0));
    assert_eq!(
        blk.poll_request(pending, None),
        Poll::Ready(Err(blkfront::IoError::UnknownRequest)),
        "released"
    );
    assert_eq!(s.gnt.active(), 0, "ring and data grants revoked");
    assert_eq!(front(&s, "state").as_deref(), Some("6"));
    assert_eq!(blk.frontend().state(), XenbusState::Closed);
    assert!(s.guest_evtchn.calls().contains(&Call::Close(blk.port())));
    assert_eq!(s.pages.live(), ring_pages, "pooled bounce pages returned");
    assert!(matches!(
        blk.submit(Op::Flush),
        Err(blkfront::SubmitError::Broken(
            blkfront::Broken::Disconnected
        ))
    ));
}
