//! The `io/ring.h` front ring against the fake back ring: round trips, wrap-around, notification
//! suppression, and a hostile backend.

use proptest::prelude::*;
use xen_fake::{BackRing, FakePage};
use xen_traits::SharedPage;
use xenbus::front_ring::{layout, FrontRing, RingEntry, RingError};

/// `struct netif_tx_request` (12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TxReq {
    gref: u32,
    offset: u16,
    flags: u16,
    id: u16,
    size: u16,
}

/// `struct netif_tx_response` (4 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TxRsp {
    id: u16,
    status: i16,
}

impl RingEntry for TxReq {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.gref.to_le_bytes());
        out[4..6].copy_from_slice(&self.offset.to_le_bytes());
        out[6..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..10].copy_from_slice(&self.id.to_le_bytes());
        out[10..12].copy_from_slice(&self.size.to_le_bytes());
    }
    fn decode(s: &[u8]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([s[i], s[i + 1]]);
        TxReq {
            gref: u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
            offset: u16_at(4),
            flags: u16_at(6),
            id: u16_at(8),
            size: u16_at(10),
        }
    }
}

impl RingEntry for TxRsp {
    const SIZE: usize = 4;
    const ALIGN: usize = 2;
    fn encode(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.id.to_le_bytes());
        out[2..4].copy_from_slice(&self.status.to_le_bytes());
    }
    fn decode(s: &[u8]) -> Self {
        TxRsp {
            id: u16::from_le_bytes([s[0], s[1]]),
            status: i16::from_le_bytes([s[2], s[3]]),
        }
    }
}

type Front = FrontRing<FakePage, TxReq, TxRsp>;
type Back = BackRing<FakePage, TxReq, TxRsp>;

fn req(id: u16) -> TxReq {
    TxReq {
        gref: 1000 + id as u32,
        offset: id,
        flags: 0,
        id,
        size: 60 + id,
    }
}

fn pair(start: u32) -> (Front, Back) {
    let page = FakePage::new();
    let front = if start == 0 {
        Front::init(page.clone()).unwrap()
    } else {
        for (off, v) in [
            (layout::REQ_PROD, start),
            (layout::RSP_PROD, start),
            (layout::REQ_EVENT, start + 1),
            (layout::RSP_EVENT, start + 1),
        ] {
            page.write_u32(off, v);
        }
        Front::attach(page.clone(), start).unwrap()
    };
    (front, Back::attach(page, start))
}

/// The backend answers every published request with `status = size`.
fn serve(back: &mut Back) -> usize {
    let mut n = 0;
    while let Some(r) = back.take_request().unwrap() {
        back.put_response(&TxRsp {
            id: r.id,
            status: r.size as i16,
        })
        .unwrap();
        n += 1;
    }
    back.push_responses_and_check_notify();
    n
}

#[test]
fn geometry_and_init() {
    let (front, _) = pair(0);
    assert_eq!(front.size(), 256);
    assert_eq!(front.free_requests(), 256);
    let p = front.page();
    assert_eq!(
        (p.read_u32(layout::REQ_EVENT), p.read_u32(layout::RSP_EVENT)),
        (1, 1)
    );
    assert_eq!(
        Front::attach(FakePage::with_size(64), 0).err(),
        Some(RingError::BadGeometry)
    );
}

#[test]
fn round_trip_fill_and_wrap() {
    for start in [0u32, 250, u32::MAX - 3] {
        let (mut front, mut back) = pair(start);
        let mut next = 0u16;
        for _round in 0..10 {
            // Fill the ring completely.
            while !front.is_full() {
                front.put_request(&req(next)).unwrap();
                next = next.wrapping_add(1);
            }
            assert_eq!(front.put_request(&req(0)), Err(RingError::Full));
            front.push_requests_and_check_notify();
            assert_eq!(serve(&mut back), 256);
            let mut got = 0;
            while let Some(r) = front.take_response().unwrap() {
                assert_eq!(r.status as u16, 60 + r.id);
                got += 1;
            }
            assert_eq!(got, 256);
            assert!(!front.final_check_for_responses().unwrap());
        }
    }
}

#[test]
fn notification_follows_req_event() {
    let (mut front, mut back) = pair(0);
    front.put_request(&req(1)).unwrap();
    assert!(
        front.push_requests_and_check_notify(),
        "req_event = 1: first request notifies"
    );
    // The backend has not re-armed req_event: no further notifications.
    front.put_request(&req(2)).unwrap();
    assert!(!front.push_requests_and_check_notify());
    // The backend consumes everything and re-arms (final check), so the next push notifies again.
    while back.take_request().unwrap().is_some() {}
    assert!(!back.final_check_for_requests());
    front.put_request(&req(3)).unwrap();
    assert!(front.push_requests_and_check_notify());
}

#[test]
fn final_check_rearms_rsp_event() {
    let (mut front, mut back) = pair(0);
    front.put_request(&req(1)).unwrap();
    front.push_requests_and_check_notify();
    assert!(!front.final_check_for_responses().unwrap());
    assert_eq!(front.page().read_u32(layout::RSP_EVENT), 1);
    back.take_request().unwrap();
    back.put_response(&TxRsp { id: 1, status: 0 }).unwrap();
    assert!(
        back.push_responses_and_check_notify(),
        "rsp_event armed: backend must notify"
    );
    assert!(front.final_check_for_responses().unwrap());
}

#[test]
fn backend_overrunning_rsp_prod_is_an_error() {
    let (mut front, back) = pair(0);
    for i in 0..3 {
        front.put_request(&req(i)).unwrap();
    }
    front.push_requests_and_check_notify();
    // Three requests published; a backend claiming four responses is lying.
    back.publish_raw_rsp_prod(4);
    let e = front.take_response().unwrap_err();
    assert_eq!(
        e,
        RingError::ResponseOverflow {
            rsp_prod: 4,
            rsp_cons: 0,
            req_prod: 3
        }
    );
    // Sticky, even if the backend "fixes" the index.
    back.publish_raw_rsp_prod(1);
    assert_eq!(front.take_response().unwrap_err(), e);
    assert_eq!(front.put_request(&req(9)).unwrap_err(), e);
}

#[test]
fn responses_to_unpublished_requests_are_an_error() {
    let (mut front, back) = pair(0);
    front.put_request(&req(0)).unwrap(); // written, not pushed
    back.publish_raw_rsp_prod(1);
    assert!(matches!(
        front.unconsumed_responses(),
        Err(RingError::ResponseOverflow { .. })
    ));
}

proptest! {
    /// Any rsp_prod the backend publishes is either within what we sent (accepted, and exactly that many
    /// responses come out) or rejected — never a panic, never more responses than requests.
    #[test]
    fn any_rsp_prod(start in any::<u32>(), sent in 0u32..=256, claimed in any::<u32>()) {
        let (mut front, back) = pair(start);
        for i in 0..sent { front.put_request(&req(i as u16)).unwrap(); }
        front.push_requests_and_check_notify();
        back.publish_raw_rsp_prod(start.wrapping_add(claimed));
        let mut got = 0u32;
        loop {
            match front.take_response() {
                Ok(Some(_)) => got += 1,
                Ok(None) => { prop_assert!(claimed <= sent); prop_assert_eq!(got, claimed); break; }
                Err(RingError::ResponseOverflow { .. }) => { prop_assert!(claimed > sent); prop_assert_eq!(got, 0); break; }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }
        prop_assert!(got <= sent);
    }

    /// `free_requests` + outstanding = ring size, across index wrap.
    #[test]
    fn free_slot_accounting(start in any::<u32>(), batches in proptest::collection::vec(0u32..100, 1..20)) {
        let (mut front, mut back) = pair(start);
        for b in batches {
            let n = b.min(front.free_requests());
            for i in 0..n { front.put_request(&req(i as u16)).unwrap(); }
            front.push_requests_and_check_notify();
            prop_assert_eq!(front.free_requests() + front.req_prod_pvt().wrapping_sub(front.rsp_cons()), 256);
            if b % 2 == 0 {
                serve(&mut back);
                while front.take_response().unwrap().is_some() {}
                prop_assert_eq!(front.free_requests(), 256);
            }
        }
    }
}
