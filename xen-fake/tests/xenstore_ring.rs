//! Ring mechanics of the xenstore transport: index wrap-around, many requests in flight, a daemon on
//! another thread, and property tests for the index arithmetic.

use std::time::Duration;

use proptest::prelude::*;
use xen_fake::{block_on, drive, join_all, FakePage, XenstoreSetup};
use xen_traits::{DomId, SharedPage};
use xenbus::xs_ring::{layout, XsRing, XENSTORE_RING_SIZE};
use xenbus::Broken;

const GUEST: DomId = DomId(7);

#[test]
fn replies_split_across_the_ring_wrap() {
    // Start 10 bytes before the end of the 1024-byte rings: the first request header and reply header are
    // both split across the wrap.
    for start in [1014u32, 1020, 1023, u32::MAX - 5, u32::MAX] {
        let (_s, mut d, xs) = XenstoreSetup::client(GUEST, start);
        for i in 0..50 {
            let key = format!("data/k{i}");
            let val = vec![b'a' + (i % 26) as u8; 1 + i * 13 % 700];
            drive(xs.write(&key, &val), &mut d).unwrap().unwrap();
            assert_eq!(
                drive(xs.read(&key), &mut d).unwrap().unwrap(),
                val,
                "start {start} i {i}"
            );
        }
        assert_eq!(xs.with_core(|c| c.diagnostics()).rejected, 0);
    }
}

#[test]
fn many_requests_in_flight_matched_by_req_id() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 1000);
    for i in 0..300 {
        d.dom0_write(&format!("data/n{i}"), format!("value-{i}").as_bytes());
    }
    // 300 reads submitted together: far more bytes than the ring holds in either direction.
    let futs: Vec<_> = (0..300)
        .map(|i| xs.read_string_owned(format!("data/n{i}")))
        .collect();
    assert!(xs.with_core(|c| c.in_flight()) == 300);
    let results = drive(join_all(futs), &mut d).unwrap();
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), format!("value-{i}"));
    }
    assert_eq!(xs.with_core(|c| c.in_flight()), 0);
}

trait OwnedRead {
    fn read_string_owned(
        &self,
        path: String,
    ) -> impl std::future::Future<Output = Result<String, xenbus::Error>> + '_;
}
impl OwnedRead for xen_fake::FakeClient {
    fn read_string_owned(
        &self,
        path: String,
    ) -> impl std::future::Future<Output = Result<String, xenbus::Error>> + '_ {
        // Submit now (so all are in flight together), await later.
        let f = self.request(xenbus::Request::Read(&path), xenbus::TxId::NONE);
        async move {
            match f.await? {
                xenbus::Response::Value(v) => Ok(String::from_utf8(v).unwrap()),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn replies_out_of_order_are_matched() {
    let (s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.dom0_write("data/x", b"X");
    d.dom0_write("data/y", b"Y");
    d.dom0_write("data/z", b"Z");
    d.push_hostile(xen_fake::Hostile::Delay); // x's reply comes after y's
    let fx = xs.read_string_owned("data/x".into());
    let fy = xs.read_string_owned("data/y".into());
    let fz = xs.read_string_owned("data/z".into());
    d.run_until_idle();
    let order = rsp_req_ids(&s.page);
    assert_eq!(order.len(), 3);
    assert!(
        order[0] > order[1],
        "the wire really carries x's reply after y's: {order:?}"
    );
    assert_eq!(
        drive(
            join_all(vec![Box::pin(fx), Box::pin(fy), Box::pin(fz)]),
            &mut d
        )
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect::<Vec<_>>(),
        ["X", "Y", "Z"]
    );
}

/// The req_ids of the replies currently in the response ring, in wire order.
fn rsp_req_ids(page: &FakePage) -> Vec<u32> {
    let (cons, prod) = (
        page.read_u32(layout::RSP_CONS),
        page.read_u32(layout::RSP_PROD),
    );
    let mut bytes = Vec::new();
    let mut i = cons;
    while i != prod {
        let mut b = [0u8];
        page.read_bytes(layout::RSP + (i % XENSTORE_RING_SIZE) as usize, &mut b);
        bytes.push(b[0]);
        i = i.wrapping_add(1);
    }
    let mut ids = Vec::new();
    let mut off = 0;
    while off + 16 <= bytes.len() {
        let w = |k: usize| u32::from_le_bytes(bytes[off + k..off + k + 4].try_into().unwrap());
        ids.push(w(4));
        off += 16 + w(12) as usize;
    }
    ids
}

#[test]
fn daemon_on_its_own_thread() {
    let (s, d, xs) = XenstoreSetup::client(GUEST, 4000);
    let t = d.spawn();
    let timeout = Duration::from_secs(30);
    let xs = &xs;
    for round in 0..20 {
        let futs: Vec<_> = (0..20)
            .map(|i| {
                let key = format!("data/r{round}/k{i}");
                let val = format!("{round}:{i}:{}", "x".repeat(i * 17));
                async move {
                    xs.write(&key, val.as_bytes()).await?;
                    let back = xs.read_string(&key).await?;
                    assert_eq!(back, val);
                    Ok::<_, xenbus::Error>(())
                }
            })
            .collect();
        for r in block_on(join_all(futs), &s.guest_evtchn, s.guest_port, timeout) {
            r.unwrap();
        }
    }
    // A dom0 change made while the daemon thread runs reaches a waiting watch.
    let w = block_on(
        xs.watch("control/shutdown"),
        &s.guest_evtchn,
        s.guest_port,
        timeout,
    )
    .unwrap();
    block_on(w.next(), &s.guest_evtchn, s.guest_port, timeout).unwrap();
    t.lock().dom0_write("control/shutdown", b"reboot");
    assert_eq!(
        block_on(w.next(), &s.guest_evtchn, s.guest_port, timeout)
            .unwrap()
            .path,
        "control/shutdown"
    );
    drop(w);
    let d = t.stop();
    assert!(d.guest_error().is_none());
}

/// Plays the daemon by hand on a raw page: produce `n` reply bytes starting at index `start`.
fn daemon_writes(page: &FakePage, start: u32, data: &[u8]) {
    for (i, b) in data.iter().enumerate() {
        let idx = start.wrapping_add(i as u32);
        page.write_bytes(layout::RSP + (idx % XENSTORE_RING_SIZE) as usize, &[*b]);
    }
    page.store_release_u32(layout::RSP_PROD, start.wrapping_add(data.len() as u32));
}

proptest! {
    /// Whatever the starting index (including across u32 wrap) and chunking, bytes come out in order
    /// and the consumer index advances by exactly what was read.
    #[test]
    fn ring_read_any_start_any_chunks(start in any::<u32>(), len in 1usize..=1024, chunk in 1usize..64) {
        let page = FakePage::new();
        for off in [layout::RSP_CONS, layout::RSP_PROD, layout::REQ_CONS, layout::REQ_PROD] {
            page.write_u32(off, start);
        }
        let mut ring = XsRing::attach(page.clone());
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        daemon_writes(&page, start, &data);
        let mut got = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = ring.read(&mut buf).unwrap();
            if n == 0 { break; }
            got.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(got, data);
        prop_assert_eq!(page.read_u32(layout::RSP_CONS), start.wrapping_add(len as u32));
    }

    /// Any producer more than a ring ahead of the consumer (in modular arithmetic) breaks the ring;
    /// anything within a ring does not.
    #[test]
    fn ring_index_jump_detected(start in any::<u32>(), ahead in any::<u32>()) {
        let page = FakePage::new();
        page.write_u32(layout::RSP_CONS, start);
        let mut ring = XsRing::attach(page.clone());
        page.store_release_u32(layout::RSP_PROD, start.wrapping_add(ahead));
        let r = ring.readable();
        if ahead > XENSTORE_RING_SIZE {
            prop_assert_eq!(r, Err(Broken::ResponseIndex { prod: start.wrapping_add(ahead), cons: start }));
            prop_assert!(ring.broken().is_some());
        } else {
            prop_assert_eq!(r, Ok(ahead));
        }
    }

    /// Writes never overrun the consumer: with the daemon `used` bytes behind, exactly
    /// `1024 - used` bytes fit, and a consumer behind by more than a ring is detected.
    #[test]
    fn ring_write_respects_free_space(start in any::<u32>(), used in 0u32..=2048, len in 0usize..2048) {
        let page = FakePage::new();
        page.write_u32(layout::REQ_PROD, start);
        let mut ring = XsRing::attach(page.clone());
        page.store_release_u32(layout::REQ_CONS, start.wrapping_sub(used));
        let data = vec![0xabu8; len];
        let r = ring.write(&data);
        if used > XENSTORE_RING_SIZE {
            let is_index_error = matches!(r, Err(Broken::RequestIndex { .. }));
            prop_assert!(is_index_error);
        } else {
            let n = r.unwrap();
            prop_assert_eq!(n, len.min((XENSTORE_RING_SIZE - used) as usize));
            prop_assert_eq!(page.read_u32(layout::REQ_PROD), start.wrapping_add(n as u32));
        }
    }
}
