//! The xenstore client core against a scripted hostile daemon: arbitrary requests, arbitrary bytes and
//! index values written into the real ring page, arbitrary polling and cancelling. Nothing may panic,
//! and a broken connection must stay broken.
#![no_main]

use std::task::{Context, Poll};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use xen_fake::{noop_waker, EventHub, FakePage};
use xen_traits::{DomId, SharedPage};
use xenbus::xs_ring::{layout, XENSTORE_RING_SIZE};
use xenbus::{Error, ReqId, Request, TxId, WatchId, XenStore};

#[derive(Arbitrary, Debug)]
enum Op {
    /// Submit a request of kind `kind` (in transaction `tx`).
    Submit { kind: u8, tx: u8 },
    /// The daemon writes bytes into rsp[] and publishes them (as much as fits, like a real producer).
    Reply(Vec<u8>),
    /// The daemon writes a well-formed header (type, req_id chosen from recent ids or raw) and payload.
    Message { msg_type: u8, id_pick: u8, raw_id: u32, payload: Vec<u8> },
    /// The daemon publishes rsp_prod = rsp_cons + delta (possibly a jump).
    RspProd(u32),
    /// The daemon publishes req_cons = req_prod - back (possibly nonsense).
    ReqCons(u32),
    /// The daemon consumes all request bytes.
    ConsumeRequests,
    /// The event channel fired.
    Event,
    /// Poll a submitted request.
    Poll(u8),
    /// Drop a submitted request.
    Cancel(u8),
    /// Poll a watch.
    PollWatch(u8),
}

struct Daemon {
    page: FakePage,
    rsp_prod: u32,
}

impl Daemon {
    fn produce(&mut self, bytes: &[u8]) {
        let cons = self.page.load_acquire_u32(layout::RSP_CONS);
        let free = XENSTORE_RING_SIZE.saturating_sub(self.rsp_prod.wrapping_sub(cons)) as usize;
        for b in bytes.iter().take(free) {
            self.page.write_bytes(layout::RSP + (self.rsp_prod % XENSTORE_RING_SIZE) as usize, &[*b]);
            self.rsp_prod = self.rsp_prod.wrapping_add(1);
        }
        self.page.store_release_u32(layout::RSP_PROD, self.rsp_prod);
    }
}

fuzz_target!(|input: (u32, Vec<Op>)| {
    let (start, ops) = input;
    let hub = EventHub::new();
    let (_dport, gport) = hub.connect(DomId(0), DomId(1));
    let page = FakePage::new();
    for off in [layout::REQ_CONS, layout::REQ_PROD, layout::RSP_CONS, layout::RSP_PROD] {
        page.write_u32(off, start);
    }
    let mut daemon = Daemon { page: page.clone(), rsp_prod: start };
    let mut xs = XenStore::new(page.clone(), hub.domain(DomId(1)), gport);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut ids: Vec<ReqId> = Vec::new();
    let mut watches: Vec<WatchId> = Vec::new();
    let mut was_broken = None;

    for op in ops.into_iter().take(200) {
        match op {
            Op::Submit { kind, tx } => {
                let tx = TxId(u32::from(tx % 3));
                let req = match kind % 10 {
                    0 => Request::Read("data/a"),
                    1 => Request::Write("data/a", b"value"),
                    2 => Request::Directory("data"),
                    3 => Request::GetPerms("data"),
                    4 => Request::Watch("data"),
                    5 => match watches.last() {
                        Some(w) => Request::Unwatch(*w),
                        None => Request::Mkdir("data/b"),
                    },
                    6 => Request::TransactionStart,
                    7 => Request::TransactionEnd { commit: kind & 0x80 != 0 },
                    8 => Request::GetDomainPath(DomId(u16::from(kind))),
                    _ => Request::Rm("data/a"),
                };
                match xs.submit(req, tx) {
                    Ok(id) => ids.push(id),
                    Err(Error::Broken(b)) => assert_eq!(Some(b), was_broken.or(xs.broken())),
                    Err(_) => {}
                }
            }
            Op::Reply(bytes) => daemon.produce(&bytes),
            Op::Message { msg_type, id_pick, raw_id, payload } => {
                let id = match ids.get(id_pick as usize % (ids.len() + 1)) {
                    Some(id) => id.0,
                    None => raw_id,
                };
                let mut m = Vec::new();
                for v in [u32::from(msg_type % 24), id, 0, payload.len() as u32] {
                    m.extend_from_slice(&v.to_le_bytes());
                }
                m.extend_from_slice(&payload);
                daemon.produce(&m);
            }
            Op::RspProd(delta) => {
                daemon.rsp_prod = page.read_u32(layout::RSP_CONS).wrapping_add(delta);
                page.store_release_u32(layout::RSP_PROD, daemon.rsp_prod);
            }
            Op::ReqCons(back) => {
                let prod = page.read_u32(layout::REQ_PROD);
                page.store_release_u32(layout::REQ_CONS, prod.wrapping_sub(back));
            }
            Op::ConsumeRequests => {
                let prod = page.read_u32(layout::REQ_PROD);
                page.store_release_u32(layout::REQ_CONS, prod);
            }
            Op::Event => {
                let _ = xs.on_event();
            }
            Op::Poll(i) => {
                if let Some(&id) = ids.get(i as usize % (ids.len().max(1))) {
                    if let Poll::Ready(r) = xs.poll_reply(id, &mut cx) {
                        if let Ok(xenbus::Response::Watch(w)) = r {
                            watches.push(w);
                        }
                    }
                }
            }
            Op::Cancel(i) => {
                if let Some(&id) = ids.get(i as usize % (ids.len().max(1))) {
                    xs.cancel(id);
                }
            }
            Op::PollWatch(i) => {
                if let Some(&w) = watches.get(i as usize % (watches.len().max(1))) {
                    let _ = xs.poll_watch(w, &mut cx);
                }
            }
        }
        // Broken is sticky.
        if let Some(b) = was_broken {
            assert_eq!(xs.broken(), Some(b));
        }
        was_broken = xs.broken();
    }
    let _ = xs.on_event();
    let _ = xs.diagnostics();
});
