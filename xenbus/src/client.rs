//! The poll-driven xenstore client core: request table, reply reassembly and dispatch.
//!
//! [`XenStore`] owns the ring and knows nothing of executors. Callers [`XenStore::submit`] requests and
//! get a [`ReqId`]; [`XenStore::on_event`] (call it when the xenstore event channel fires, or any time)
//! moves bytes in and out of the ring, matches replies to requests by `req_id`, routes watch events, and
//! wakes the wakers registered with [`XenStore::poll_reply`] / [`XenStore::poll_watch`]. The async API of
//! [`crate::Client`] is a thin layer over this.
//!
//! Everything read from the ring is untrusted: a reply is copied out once, then checked; a reply that does
//! not fit its request is rejected (logged, counted in [`Diagnostics`], the request fails with
//! [`Error::Malformed`]); a reply to no request in flight is dropped and counted. Only a broken framing
//! (ring index jump, header announcing more than `XENSTORE_PAYLOAD_MAX` bytes) ends the connection.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::task::{Context, Poll, Waker};

use xen_traits::{EventChannels, Port, SharedPage};

use crate::error::{Broken, Error, Malformed};
use crate::request::{self, ReqId, Request, TxId, WatchId};
use crate::response::{self, Response};
use crate::watch::{WatchEvent, Watches};
use crate::wire::{MsgType, Packet, HEADER_LEN, XENSTORE_PAYLOAD_MAX};
use crate::xs_ring::XsRing;

/// Most reply bytes taken from the ring in one pump. A backend producing faster than we consume (an
/// event storm) cannot keep the client in its receive loop: past this budget the pump returns and reports
/// [`Work::More`], and polled futures ask to be polled again.
pub const RX_BUDGET: usize = 4 * crate::xs_ring::XENSTORE_RING_SIZE as usize;

/// What [`XenStore::on_event`] left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// The ring is drained.
    Idle,
    /// The receive budget ran out with bytes still waiting: call again (after letting other tasks run).
    More,
}

/// Counters and the last rejection reason, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Messages received.
    pub received: u64,
    /// Replies rejected (malformed, wrong type, unsolicited, bad watch event).
    pub rejected: u64,
    /// The reason of the last rejection.
    pub last_rejection: Option<Malformed>,
    /// Replies that arrived for requests whose future was dropped (discarded silently).
    pub abandoned: u64,
}

#[derive(Debug)]
enum Slot {
    Waiting(Option<Waker>),
    Done(Result<Response, Error>),
    /// The caller gave up; discard the reply (aborting a transaction it may have started).
    Abandoned,
}

#[derive(Debug)]
struct InFlight {
    kind: MsgType,
    watch: Option<WatchId>,
    /// For `XS_UNWATCH`: the watch to forget once answered.
    unwatch: Option<WatchId>,
    slot: Slot,
}

#[derive(Debug, Default)]
struct Rx {
    header: [u8; HEADER_LEN],
    header_len: usize,
    body: Vec<u8>,
    body_len: usize,
}

/// The xenstore client core. See the [module docs](self).
#[derive(Debug)]
pub struct XenStore<P, E> {
    ring: XsRing<P>,
    evtchn: E,
    port: Port,
    next_id: u32,
    inflight: BTreeMap<u32, InFlight>,
    out: VecDeque<Vec<u8>>,
    out_off: usize,
    rx: Rx,
    watches: Watches,
    to_wake: Vec<Waker>,
    diag: Diagnostics,
    budget_hit: bool,
}

impl<P: SharedPage, E: EventChannels> XenStore<P, E> {
    /// A client over the xenstore ring `page` (`HVM_PARAM_STORE_PFN`), signalling on `port`
    /// (`HVM_PARAM_STORE_EVTCHN`).
    pub fn new(page: P, evtchn: E, port: Port) -> Self {
        XenStore {
            ring: XsRing::attach(page),
            evtchn,
            port,
            next_id: 0,
            inflight: BTreeMap::new(),
            out: VecDeque::new(),
            out_off: 0,
            rx: Rx::default(),
            watches: Watches::default(),
            to_wake: Vec::new(),
            diag: Diagnostics::default(),
            budget_hit: false,
        }
    }

    /// The event channel port.
    pub fn port(&self) -> Port {
        self.port
    }

    /// The event channel service.
    pub fn evtchn(&self) -> &E {
        &self.evtchn
    }

    /// Counters and last rejection.
    pub fn diagnostics(&self) -> Diagnostics {
        self.diag
    }

    /// Why the connection is broken, if it is.
    pub fn broken(&self) -> Option<Broken> {
        self.ring.broken()
    }

    /// Number of requests waiting for a reply.
    pub fn in_flight(&self) -> usize {
        self.inflight
            .values()
            .filter(|f| matches!(f.slot, Slot::Waiting(_) | Slot::Abandoned))
            .count()
    }

    /// Events dropped from a watch's queue because it was not read in time.
    pub fn watch_events_dropped(&self, w: WatchId) -> u64 {
        self.watches.dropped(w)
    }

    fn alloc_id(&mut self) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if !self.inflight.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }

    /// Queue a request and start sending it. The reply is collected with [`XenStore::poll_reply`] or
    /// [`XenStore::take_reply`].
    pub fn submit(&mut self, req: Request<'_>, tx: TxId) -> Result<ReqId, Error> {
        if let Some(b) = self.ring.broken() {
            return Err(Error::Broken(b));
        }
        let (token, unwatch_path, watch, unwatch) = match req {
            Request::Watch(path) => {
                request::check_path(path)?;
                let w = self.watches.add(path);
                (
                    Watches::token(w),
                    alloc::string::String::new(),
                    Some(w),
                    None,
                )
            }
            Request::Unwatch(w) => {
                let path = self.watches.path(w).ok_or(Error::UnknownRequest)?;
                (
                    Watches::token(w),
                    alloc::string::String::from(path),
                    None,
                    Some(w),
                )
            }
            _ => Default::default(),
        };
        let payload = match request::encode_payload(&req, token.as_bytes(), &unwatch_path) {
            Ok(p) => p,
            Err(e) => {
                if let Some(w) = watch {
                    self.watches.remove(w);
                }
                return Err(e.into());
            }
        };
        let id = self.alloc_id();
        let msg = request::encode_message(req.msg_type(), ReqId(id), tx, &payload)?;
        self.inflight.insert(
            id,
            InFlight {
                kind: req.msg_type(),
                watch,
                unwatch,
                slot: Slot::Waiting(None),
            },
        );
        self.out.push_back(msg);
        self.pump();
        Ok(ReqId(id))
    }

    /// Drive the ring: send queued bytes, receive and dispatch replies, wake whoever they complete.
    /// Call it when the xenstore event channel fires. Returns whether work is left (the receive budget
    /// ran out), or the broken state if the connection broke.
    pub fn on_event(&mut self) -> Result<Work, Broken> {
        self.pump();
        for w in self.to_wake.drain(..) {
            w.wake();
        }
        match self.ring.broken() {
            Some(b) => Err(b),
            None if self.budget_hit => Ok(Work::More),
            None => Ok(Work::Idle),
        }
    }

    /// Whether the last pump stopped at [`RX_BUDGET`] with bytes still waiting.
    pub fn more_pending(&self) -> bool {
        self.budget_hit
    }

    /// Like [`XenStore::on_event`] but hands the wakers to the caller instead of waking them (so a caller
    /// holding a lock around the core can wake after releasing it).
    pub fn pump_deferred(&mut self, wakers: &mut Vec<Waker>) {
        self.pump();
        wakers.append(&mut self.to_wake);
    }

    fn pump(&mut self) {
        let mut touched = false;
        if self.ring.broken().is_none() {
            touched |= self.send();
            touched |= self.receive();
            // Receiving may have queued requests (aborts of abandoned transactions).
            touched |= self.send();
        }
        if touched {
            self.evtchn.notify(self.port);
        }
        if let Some(b) = self.ring.broken() {
            self.fail_all(b);
        }
    }

    fn send(&mut self) -> bool {
        let mut any = false;
        if self.ring.check_request_index().is_err() {
            return false;
        }
        while let Some(msg) = self.out.front() {
            let rest = &msg[self.out_off..];
            match self.ring.write(rest) {
                Ok(0) => break,
                Ok(n) => {
                    any = true;
                    self.out_off += n;
                    if self.out_off == msg.len() {
                        self.out.pop_front();
                        self.out_off = 0;
                    }
                }
                Err(_) => break,
            }
        }
        any
    }

    fn receive(&mut self) -> bool {
        let mut any = false;
        let mut taken = 0usize;
        self.budget_hit = false;
        loop {
            if taken >= RX_BUDGET {
                self.budget_hit = self.ring.readable().is_ok_and(|n| n > 0);
                return any;
            }
            if self.rx.header_len < HEADER_LEN {
                let end = HEADER_LEN.min(self.rx.header_len + (RX_BUDGET - taken));
                let n = match self.ring.read(&mut self.rx.header[self.rx.header_len..end]) {
                    Ok(n) => n,
                    Err(_) => return any,
                };
                if n == 0 {
                    return any;
                }
                any = true;
                taken += n;
                self.rx.header_len += n;
                if self.rx.header_len < HEADER_LEN {
                    continue;
                }
                let len = Packet::new_unchecked(&self.rx.header[..]).len();
                if len as usize > XENSTORE_PAYLOAD_MAX {
                    // The stream cannot be resynchronised: fail the connection.
                    self.ring_fail(Broken::PayloadTooLong(len));
                    return any;
                }
                self.rx.body.clear();
                self.rx.body.resize(len as usize, 0);
                self.rx.body_len = 0;
            }
            if self.rx.body_len < self.rx.body.len() {
                if taken >= RX_BUDGET {
                    self.budget_hit = self.ring.readable().is_ok_and(|n| n > 0);
                    return any;
                }
                let end = self
                    .rx
                    .body
                    .len()
                    .min(self.rx.body_len + (RX_BUDGET - taken));
                let n = match self.ring.read(&mut self.rx.body[self.rx.body_len..end]) {
                    Ok(n) => n,
                    Err(_) => return any,
                };
                if n == 0 {
                    return any;
                }
                any = true;
                taken += n;
                self.rx.body_len += n;
            }
            if self.rx.body_len == self.rx.body.len() {
                let header = self.rx.header;
                let body = core::mem::take(&mut self.rx.body);
                self.rx.header_len = 0;
                self.rx.body_len = 0;
                self.dispatch(&header, &body);
                self.rx.body = body;
            }
        }
    }

    fn ring_fail(&mut self, why: Broken) {
        self.ring.mark_broken(why);
    }

    fn reject(&mut self, why: Malformed) {
        log::warn!("xenstore: rejected reply: {why:?}");
        self.diag.rejected += 1;
        self.diag.last_rejection = Some(why);
    }

    fn dispatch(&mut self, header: &[u8; HEADER_LEN], payload: &[u8]) {
        self.diag.received += 1;
        let packet = Packet::new_unchecked(&header[..]);
        let (raw_type, req_id) = (packet.msg_type(), packet.req_id());
        if raw_type == MsgType::WatchEvent as u32 {
            let routed = crate::payload::watch_event(payload)
                .and_then(|(path, token)| self.watches.deliver(path, &token));
            match routed {
                Ok(Some(w)) => self.to_wake.push(w),
                Ok(None) => {}
                Err(why) => self.reject(why),
            }
            return;
        }
        let Some(f) = self.inflight.get_mut(&req_id) else {
            self.reject(Malformed::UnsolicitedReply(req_id));
            return;
        };
        if matches!(f.slot, Slot::Done(_)) {
            // A second reply to a request already answered.
            self.reject(Malformed::UnsolicitedReply(req_id));
            return;
        }
        let result = response::decode(f.kind, f.watch, raw_type, payload);
        let (kind, watch, unwatch) = (f.kind, f.watch, f.unwatch);
        let abandoned = matches!(f.slot, Slot::Abandoned);
        if abandoned {
            self.inflight.remove(&req_id);
            self.diag.abandoned += 1;
        } else if let Slot::Waiting(Some(w)) =
            core::mem::replace(&mut f.slot, Slot::Done(result.clone()))
        {
            self.to_wake.push(w);
        }
        if let Err(Error::Malformed(why)) = result {
            self.reject(why);
        }
        // Keep the watch table in step with xenstored's.
        if let Some(w) = watch {
            if abandoned && result.is_ok() {
                if let Some(path) = self.watches.path(w) {
                    let mut p = Vec::from(path.as_bytes());
                    p.push(0);
                    p.extend_from_slice(Watches::token(w).as_bytes());
                    p.push(0);
                    log::debug!("xenstore: removing abandoned watch {}", w.0);
                    self.queue_abandoned(MsgType::Unwatch, TxId::NONE, &p);
                }
            }
            if result.is_err() || abandoned {
                if let Some(waker) = self.watches.remove(w) {
                    self.to_wake.push(waker);
                }
            }
        }
        if let Some(w) = unwatch {
            if let Some(waker) = self.watches.remove(w) {
                self.to_wake.push(waker);
            }
        }
        if abandoned && kind == MsgType::TransactionStart {
            if let Ok(Response::Transaction(tx)) = result {
                log::debug!("xenstore: aborting abandoned transaction {}", tx.0);
                self.queue_abandoned(MsgType::TransactionEnd, tx, b"F\0");
            }
        }
    }

    /// Queue a request whose reply nobody waits for.
    fn queue_abandoned(&mut self, kind: MsgType, tx: TxId, payload: &[u8]) {
        let id = self.alloc_id();
        if let Ok(msg) = request::encode_message(kind, ReqId(id), tx, payload) {
            self.inflight.insert(
                id,
                InFlight {
                    kind,
                    watch: None,
                    unwatch: None,
                    slot: Slot::Abandoned,
                },
            );
            self.out.push_back(msg);
        }
    }

    fn fail_all(&mut self, why: Broken) {
        // Requests still waiting fail; replies that arrived before the break are kept.
        for f in self.inflight.values_mut() {
            if let Slot::Waiting(w) = &mut f.slot {
                if let Some(w) = w.take() {
                    self.to_wake.push(w);
                }
                f.slot = Slot::Done(Err(Error::Broken(why)));
            }
        }
        self.inflight
            .retain(|_, f| !matches!(f.slot, Slot::Abandoned));
        self.to_wake.extend(self.watches.drain_wakers());
        self.out.clear();
        self.out_off = 0;
    }

    /// Take the reply of `id` if it has arrived (without pumping the ring).
    pub fn take_reply(&mut self, id: ReqId) -> Option<Result<Response, Error>> {
        match self.inflight.get(&id.0) {
            None => Some(Err(Error::UnknownRequest)),
            Some(InFlight {
                slot: Slot::Done(_),
                ..
            }) => match self.inflight.remove(&id.0) {
                Some(InFlight {
                    slot: Slot::Done(r),
                    ..
                }) => Some(r),
                _ => Some(Err(Error::UnknownRequest)),
            },
            Some(InFlight {
                slot: Slot::Abandoned,
                ..
            }) => Some(Err(Error::UnknownRequest)),
            Some(_) => None,
        }
    }

    /// Pump the ring, then return the reply of `id` or register `cx`'s waker for it.
    pub fn poll_reply(&mut self, id: ReqId, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        self.pump();
        if let Some(r) = self.take_reply(id) {
            return Poll::Ready(r);
        }
        if let Some(InFlight {
            slot: Slot::Waiting(w),
            ..
        }) = self.inflight.get_mut(&id.0)
        {
            *w = Some(cx.waker().clone());
        }
        if self.budget_hit {
            // More replies are waiting than one pump takes: ask to be polled again.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Give up on `id` (its future was dropped): its reply will be discarded when it comes; a transaction
    /// it started is aborted; a completed-but-untaken reply is dropped now.
    pub fn cancel(&mut self, id: ReqId) {
        match self.inflight.get_mut(&id.0) {
            Some(
                f @ InFlight {
                    slot: Slot::Waiting(_),
                    ..
                },
            ) => f.slot = Slot::Abandoned,
            Some(InFlight {
                slot: Slot::Done(_),
                ..
            }) => {
                if let Some(InFlight {
                    kind,
                    slot: Slot::Done(r),
                    ..
                }) = self.inflight.remove(&id.0)
                {
                    if let (MsgType::TransactionStart, Ok(Response::Transaction(tx))) = (kind, r) {
                        self.queue_abandoned(MsgType::TransactionEnd, tx, b"F\0");
                        self.pump();
                    }
                }
            }
            _ => {}
        }
    }

    /// Send a request whose reply is not needed (e.g. aborting a transaction from a destructor).
    pub fn submit_detached(&mut self, req: Request<'_>, tx: TxId) -> Result<(), Error> {
        let id = self.submit(req, tx)?;
        self.cancel(id);
        Ok(())
    }

    /// Pump the ring, then return the next event of watch `w`, or register `cx`'s waker for it.
    /// Fails with [`Error::UnknownRequest`] if the watch does not exist (any more).
    pub fn poll_watch(
        &mut self,
        w: WatchId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<WatchEvent, Error>> {
        self.pump();
        if let Some(b) = self.ring.broken() {
            return Poll::Ready(Err(Error::Broken(b)));
        }
        match self.watches.take(w, Some(cx.waker())) {
            None => Poll::Ready(Err(Error::UnknownRequest)),
            Some(Some(ev)) => Poll::Ready(Ok(ev)),
            Some(None) => {
                if self.budget_hit {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }

    /// The next queued event of watch `w`, if any (without pumping the ring).
    pub fn take_watch_event(&mut self, w: WatchId) -> Option<WatchEvent> {
        self.watches.take(w, None).flatten()
    }

    /// Whether watch `w` is registered (or being registered).
    pub fn has_watch(&self, w: WatchId) -> bool {
        self.watches.contains(w)
    }
}
