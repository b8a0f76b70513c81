//! A hostile xenstored: every misbehaviour is rejected with an error, none panics, and the connection
//! survives whatever does not break the framing.

use xen_fake::{drive, poll_once, Hostile, XenstoreSetup};
use xen_traits::DomId;
use xenbus::wire::WireError;
use xenbus::{Broken, Error, Malformed, MsgType, Request, TxId, XsErrno};

const GUEST: DomId = DomId(5);

/// After misbehaviour that keeps the framing intact, a normal request still works.
fn still_works(d: &mut xen_fake::FakeXenstored, xs: &xen_fake::FakeClient) {
    drive(xs.write("data/after", b"ok"), d).unwrap().unwrap();
    assert_eq!(drive(xs.read("data/after"), d).unwrap().unwrap(), b"ok");
}

#[test]
fn reply_with_wrong_req_id_is_rejected_and_real_reply_accepted() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::WrongReqId);
    assert_eq!(drive(xs.read("name"), &mut d).unwrap().unwrap(), b"guest5");
    let diag = xs.with_core(|c| c.diagnostics());
    assert_eq!(diag.rejected, 1);
    assert!(
        matches!(diag.last_rejection, Some(Malformed::UnsolicitedReply(id)) if id & 0x8000_0000 != 0)
    );
    still_works(&mut d, &xs);
}

#[test]
fn duplicate_reply_is_rejected() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::DuplicateReply);
    assert_eq!(drive(xs.read("name"), &mut d).unwrap().unwrap(), b"guest5");
    d.run_until_idle();
    xs.on_event();
    let diag = xs.with_core(|c| c.diagnostics());
    assert_eq!(diag.rejected, 1);
    assert!(matches!(
        diag.last_rejection,
        Some(Malformed::UnsolicitedReply(_))
    ));
    still_works(&mut d, &xs);
}

#[test]
fn wrong_and_unknown_types_fail_the_request() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::WrongType);
    assert_eq!(
        drive(xs.read("name"), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::UnexpectedType {
            expected: MsgType::Read,
            got: MsgType::Write
        }))
    );
    d.push_hostile(Hostile::UnknownType(999));
    assert_eq!(
        drive(xs.read("name"), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::Wire(WireError::UnknownType(
            999
        ))))
    );
    assert_eq!(xs.with_core(|c| c.diagnostics()).rejected, 2);
    still_works(&mut d, &xs);
}

#[test]
fn malformed_payloads_fail_the_request() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let cases: Vec<(Vec<u8>, Error)> = vec![
        (
            b"a\0b".to_vec(),
            Error::Malformed(Malformed::NotNulTerminated),
        ),
        (b"\xff\xfe\0".to_vec(), Error::Malformed(Malformed::NotUtf8)),
    ];
    for (payload, want) in cases {
        d.push_hostile(Hostile::BadPayload(payload));
        assert_eq!(drive(xs.directory("data"), &mut d).unwrap(), Err(want));
    }
    d.push_hostile(Hostile::BadPayload(b"NOPE\0".to_vec()));
    assert_eq!(
        drive(xs.write("data/x", b"1"), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::NotOk))
    );
    d.push_hostile(Hostile::BadPayload(b"12x\0".to_vec()));
    assert!(matches!(
        drive(xs.transaction_start(), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadNumber))
    ));
    d.push_hostile(Hostile::BadPayload(b"99999999999\0".to_vec()));
    assert!(matches!(
        drive(xs.transaction_start(), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadNumber))
    ));
    d.push_hostile(Hostile::BadPayload(b"q7\0".to_vec()));
    assert_eq!(
        drive(xs.get_perms("data"), &mut d).unwrap(),
        Err(Error::Malformed(Malformed::BadPerms))
    );
    still_works(&mut d, &xs);
}

#[test]
fn unknown_error_strings_map_to_unknown() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::ErrorString("EWHATEVER".into()));
    assert_eq!(
        drive(xs.read("name"), &mut d).unwrap(),
        Err(Error::Xs(XsErrno::Unknown))
    );
    d.push_hostile(Hostile::ErrorString("EAGAIN".into()));
    assert!(drive(xs.read("name"), &mut d)
        .unwrap()
        .unwrap_err()
        .is_again());
    still_works(&mut d, &xs);
}

#[test]
fn spurious_and_malformed_watch_events_are_dropped() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::SpuriousWatchEvent);
    assert_eq!(drive(xs.read("name"), &mut d).unwrap().unwrap(), b"guest5");
    assert_eq!(
        xs.with_core(|c| c.diagnostics()).last_rejection,
        Some(Malformed::UnknownWatchToken)
    );
    d.push_hostile(Hostile::MalformedWatchEvent);
    assert_eq!(drive(xs.read("name"), &mut d).unwrap().unwrap(), b"guest5");
    assert_eq!(
        xs.with_core(|c| c.diagnostics()).last_rejection,
        Some(Malformed::BadWatchEvent)
    );
    assert_eq!(xs.with_core(|c| c.diagnostics()).rejected, 2);
    still_works(&mut d, &xs);
}

#[test]
fn oversized_length_breaks_the_connection() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::OversizedLen(4097));
    assert_eq!(
        drive(xs.read("name"), &mut d).unwrap(),
        Err(Error::Broken(Broken::PayloadTooLong(4097)))
    );
    // Sticky: every later request fails at once, without touching the ring.
    let before = d.received().len();
    assert_eq!(
        drive(xs.read("name"), &mut d).unwrap(),
        Err(Error::Broken(Broken::PayloadTooLong(4097)))
    );
    assert_eq!(d.received().len(), before);
    d.push_hostile(Hostile::OversizedLen(u32::MAX));
}

#[test]
fn rsp_prod_jump_breaks_the_connection_and_fails_all_in_flight() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::Silent);
    let mut pending = Box::pin(xs.read("name"));
    assert!(poll_once(pending.as_mut()).is_pending());
    d.run_until_idle();
    d.push_hostile(Hostile::RspProdJump(2000));
    let r = drive(xs.read("name"), &mut d).unwrap();
    assert!(
        matches!(r, Err(Error::Broken(Broken::ResponseIndex { .. }))),
        "{r:?}"
    );
    // The other request in flight is failed too, not left hanging.
    assert!(matches!(
        drive(pending, &mut d).unwrap(),
        Err(Error::Broken(Broken::ResponseIndex { .. }))
    ));
}

#[test]
fn req_cons_jump_breaks_the_connection() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::ReqConsJump);
    let first = drive(xs.read("name"), &mut d).unwrap();
    assert!(
        matches!(first, Err(Error::Broken(Broken::RequestIndex { .. }))),
        "{first:?}"
    );
}

#[test]
fn garbage_replies_never_panic() {
    // A garbage header that announces a small payload: framing intact, reply unsolicited or mistyped.
    let mut g = Vec::new();
    for v in [2u32, 0xdead_beef, 0, 3] {
        g.extend_from_slice(&v.to_le_bytes());
    }
    g.extend_from_slice(b"abc");
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.push_hostile(Hostile::Garbage(g));
    // The request gets garbage instead of its reply: it stays pending, the garbage is rejected.
    let mut a = Box::pin(xs.read("name"));
    assert!(poll_once(a.as_mut()).is_pending());
    d.run_until_idle();
    assert!(poll_once(a.as_mut()).is_pending());
    assert!(matches!(
        xs.with_core(|c| c.diagnostics()).last_rejection,
        Some(Malformed::UnsolicitedReply(0xdead_beef))
    ));
    drop(a);
    still_works(&mut d, &xs);

    // Random bytes: whatever they are, no panic; the client ends broken or keeps working.
    let mut seed = 0x1234_5678u32;
    for round in 0..200 {
        let (_s, mut d, xs) = XenstoreSetup::client(GUEST, round * 37);
        let n = 1 + (seed % 300) as usize;
        let mut bytes = Vec::with_capacity(n);
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            bytes.push(seed as u8);
        }
        d.push_hostile(Hostile::Garbage(bytes));
        let mut f = Box::pin(xs.read("name"));
        let _ = poll_once(f.as_mut());
        d.run_until_idle();
        let _ = poll_once(f.as_mut());
        drop(f);
        xs.on_event();
    }
}

#[test]
fn trickled_replies_reassemble() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    d.set_trickle(Some(1));
    assert_eq!(drive(xs.read("name"), &mut d).unwrap().unwrap(), b"guest5");
    d.set_trickle(Some(7));
    let v = vec![b'z'; 3000];
    drive(xs.write("data/z", &v), &mut d).unwrap().unwrap();
    assert_eq!(drive(xs.read("data/z"), &mut d).unwrap().unwrap(), v);
}

#[test]
fn replies_to_abandoned_requests_are_discarded_quietly() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let mut f = Box::pin(xs.request(Request::Read("name"), TxId::NONE));
    assert!(poll_once(f.as_mut()).is_pending());
    drop(f);
    d.run_until_idle();
    xs.on_event();
    let diag = xs.with_core(|c| c.diagnostics());
    assert_eq!((diag.abandoned, diag.rejected), (1, 0));
    assert_eq!(xs.with_core(|c| c.in_flight()), 0);
}

#[test]
fn replies_received_before_a_break_are_kept() {
    let (_s, mut d, xs) = XenstoreSetup::client(GUEST, 0);
    let mut a = Box::pin(xs.read("name"));
    assert!(poll_once(a.as_mut()).is_pending()); // async fns submit on first poll
    d.run_until_idle();
    xs.on_event(); // a's reply is in, its future not polled yet
    d.push_hostile(Hostile::RspProdJump(5000));
    let mut b = Box::pin(xs.read("domid"));
    assert!(poll_once(b.as_mut()).is_pending());
    d.run_until_idle();
    xs.on_event();
    assert!(matches!(
        poll_once(b.as_mut()),
        std::task::Poll::Ready(Err(Error::Broken(_)))
    ));
    assert!(matches!(poll_once(a.as_mut()), std::task::Poll::Ready(Ok(ref v)) if v == b"guest5"));
}

/// A ring page whose daemon refills `rsp[]` every time the client looks at `rsp_prod`: an infinitely
/// fast producer (an event storm), deterministic, without threads.
struct FloodPage {
    inner: xen_fake::FakePage,
    message: Vec<u8>,
    pos: std::cell::Cell<usize>,
    prod: std::cell::Cell<u32>,
    produced: std::cell::Cell<u64>,
}

impl xen_traits::SharedPage for FloodPage {
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn word(&self, off: usize) -> &std::sync::atomic::AtomicU32 {
        self.inner.word(off)
    }
    // Overrides the provided accessor: every look at `rsp_prod` refills the ring first.
    fn load_acquire_u32(&self, off: usize) -> u32 {
        use xenbus::xs_ring::layout;
        if off == layout::RSP_PROD {
            let cons = self.inner.read_u32(layout::RSP_CONS);
            let mut prod = self.prod.get();
            while prod.wrapping_sub(cons) < 1024 {
                let b = self.message[self.pos.get()];
                self.pos.set((self.pos.get() + 1) % self.message.len());
                self.inner
                    .write_bytes(layout::RSP + (prod % 1024) as usize, &[b]);
                prod = prod.wrapping_add(1);
                self.produced.set(self.produced.get() + 1);
            }
            self.prod.set(prod);
            self.inner.store_release_u32(layout::RSP_PROD, prod);
        }
        self.inner.load_acquire_u32(off)
    }
    fn read_bytes(&self, off: usize, buf: &mut [u8]) {
        self.inner.read_bytes(off, buf)
    }
    fn write_bytes(&self, off: usize, data: &[u8]) {
        self.inner.write_bytes(off, data)
    }
    fn fence_read(&self) {}
    fn fence_write(&self) {}
    fn fence_full(&self) {}
}

struct CountWakes(std::sync::atomic::AtomicUsize);
impl std::task::Wake for CountWakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn event_storm_is_bounded_per_pump() {
    use std::sync::Arc;
    use xen_traits::SharedPage;
    use xenbus::{Work, XenStore, RX_BUDGET};
    let hub = xen_fake::EventHub::new();
    let (_d, g) = hub.connect(DomId(0), GUEST);
    // An endless stream of watch events for a token that is not ours.
    let mut message = Vec::new();
    for v in [15u32, 0, 0, 8] {
        message.extend_from_slice(&v.to_le_bytes());
    }
    message.extend_from_slice(b"/a\0tok1\0");
    let page = FloodPage {
        inner: xen_fake::FakePage::new(),
        message,
        pos: Default::default(),
        prod: Default::default(),
        produced: Default::default(),
    };
    let mut xs = XenStore::new(&page, hub.domain(GUEST), g);
    for _ in 0..5 {
        let before = page.inner.read_u32(xenbus::xs_ring::layout::RSP_CONS);
        assert_eq!(xs.on_event(), Ok(Work::More), "returns despite the storm");
        let taken = page
            .inner
            .read_u32(xenbus::xs_ring::layout::RSP_CONS)
            .wrapping_sub(before);
        assert!(
            taken as usize <= RX_BUDGET,
            "took {taken} bytes in one pump"
        );
        assert!(
            taken as usize >= RX_BUDGET - 1024,
            "but made real progress: {taken}"
        );
    }
    assert!(xs.diagnostics().rejected > 500);
    // A request waiting under the storm asks to be polled again instead of sleeping on a lost wake-up.
    let id = xs
        .submit(xenbus::Request::Read("name"), xenbus::TxId::NONE)
        .unwrap();
    let counter = Arc::new(CountWakes(Default::default()));
    let waker = std::task::Waker::from(counter.clone());
    assert!(xs
        .poll_reply(id, &mut std::task::Context::from_waker(&waker))
        .is_pending());
    assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}
