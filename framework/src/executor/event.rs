//! Waiting for event-channel ports: `wait_event`, and the table of ports, pending flags and waiters.
//!
//! Semantics (edge, coalescing, never lost):
//! - When a port fires, every future waiting on it at that moment completes (one event wakes them all).
//! - When it fires while nobody waits, that is remembered once: the next `wait_event` on the port
//!   completes at once and consumes it. Several firings meanwhile still count as one.
//! - A waiter woken by an event but dropped before it saw it (say, the losing side of a `select`) puts the
//!   event back as pending, so the event reaches the next waiter instead of being lost.
//!
//! So a driver may see spurious events but never misses one: after `wait_event` completes it checks
//! its ring (or whatever the port signals) until there is no more work, then waits again.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::runtime::{expect_current, Shared};

type WaiterId = u64;

#[derive(Default)]
struct PortState {
    pending: bool,
    waiters: Vec<(WaiterId, Waker)>,
}

/// Per-port pending flags and waiters. Ports without either have no entry.
#[derive(Default)]
pub(crate) struct EventTable {
    ports: BTreeMap<u32, PortState>,
    next_waiter: WaiterId,
}

impl EventTable {
    /// `port` fired: its waiters' wakers go to `out` (call them after releasing the lock); with no
    /// waiter, the port becomes pending.
    pub(crate) fn fire(&mut self, port: u32, out: &mut Vec<Waker>) {
        let state = self.ports.entry(port).or_default();
        if state.waiters.is_empty() {
            state.pending = true;
        } else {
            out.extend(state.waiters.drain(..).map(|(_, w)| w));
            self.tidy(port);
        }
    }

    /// Consumes the pending flag of `port`, if set.
    fn take_pending(&mut self, port: u32) -> bool {
        let Some(state) = self.ports.get_mut(&port) else { return false };
        let was = core::mem::replace(&mut state.pending, false);
        self.tidy(port);
        was
    }

    fn add_waiter(&mut self, port: u32, waker: Waker) -> WaiterId {
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.ports.entry(port).or_default().waiters.push((id, waker));
        id
    }

    /// Whether waiter `id` still waits (then its waker is refreshed); false once the port fired for it.
    fn still_waiting(&mut self, port: u32, id: WaiterId, waker: &Waker) -> bool {
        let Some(state) = self.ports.get_mut(&port) else { return false };
        match state.waiters.iter_mut().find(|(w, _)| *w == id) {
            Some((_, w)) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// A waiter goes away without having seen its event: deregister it, or, if the port fired for it
    /// already, make the event pending again. Returns the removed waker (drop it outside the lock).
    fn cancel(&mut self, port: u32, id: WaiterId) -> Option<Waker> {
        let state = self.ports.entry(port).or_default();
        let removed = match state.waiters.iter().position(|(w, _)| *w == id) {
            Some(i) => Some(state.waiters.remove(i).1),
            None => {
                state.pending = true;
                None
            }
        };
        self.tidy(port);
        removed
    }

    /// Whether any future waits for any port (if none does and nothing else can wake a task, the
    /// executor is deadlocked).
    pub(crate) fn has_waiters(&self) -> bool {
        self.ports.values().any(|s| !s.waiters.is_empty())
    }

    fn tidy(&mut self, port: u32) {
        if let Some(s) = self.ports.get(&port) {
            if !s.pending && s.waiters.is_empty() {
                self.ports.remove(&port);
            }
        }
    }
}

/// Completes when event-channel `port` fires (or at once if it fired while nobody waited). See the
/// [module docs](self) for the exact semantics.
///
/// # Panics
/// When polled outside [`run`](super::run).
pub fn wait_event(port: u32) -> WaitEvent {
    WaitEvent { port, waiter: None }
}

/// The future of [`wait_event`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WaitEvent {
    port: u32,
    waiter: Option<(Weak<Shared>, WaiterId)>,
}

impl WaitEvent {
    pub fn port(&self) -> u32 {
        self.port
    }
}

impl Future for WaitEvent {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let port = self.port;
        match self.waiter.as_ref().map(|(s, id)| (s.upgrade(), *id)) {
            Some((Some(shared), id)) => {
                if shared.events.lock().still_waiting(port, id, cx.waker()) {
                    return Poll::Pending;
                }
                self.waiter = None;
                Poll::Ready(())
            }
            // Never registered, or registered with an executor that has stopped: start over.
            _ => {
                self.waiter = None;
                let shared = expect_current("wait_event");
                let mut events = shared.events.lock();
                if events.take_pending(port) {
                    return Poll::Ready(());
                }
                let id = events.add_waiter(port, cx.waker().clone());
                drop(events);
                self.waiter = Some((Arc::downgrade(&shared), id));
                Poll::Pending
            }
        }
    }
}

impl Drop for WaitEvent {
    fn drop(&mut self) {
        if let Some((shared, id)) = self.waiter.take() {
            if let Some(shared) = shared.upgrade() {
                let waker = shared.events.lock().cancel(self.port, id);
                drop(waker);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_coalesces_and_tidies() {
        let mut t = EventTable::default();
        let mut out = Vec::new();
        t.fire(3, &mut out);
        t.fire(3, &mut out);
        assert!(out.is_empty());
        assert!(t.take_pending(3));
        assert!(!t.take_pending(3), "two firings while nobody waited are remembered once");
        assert!(t.ports.is_empty());

        let a = t.add_waiter(3, Waker::noop().clone());
        let b = t.add_waiter(3, Waker::noop().clone());
        assert!(t.has_waiters());
        t.fire(3, &mut out);
        assert_eq!(out.len(), 2);
        assert!(!t.still_waiting(3, a, Waker::noop()));
        assert!(!t.has_waiters());
        // b was woken but goes away without looking: the event is pending again.
        assert!(t.cancel(3, b).is_none());
        assert!(t.take_pending(3));
        // A waiter that was never woken just leaves.
        let c = t.add_waiter(4, Waker::noop().clone());
        assert!(t.cancel(4, c).is_some());
        assert!(!t.take_pending(4));
        assert!(t.ports.is_empty());
    }
}
