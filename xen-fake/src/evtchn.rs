//! Fake event channels: a hub connecting fake domains, recording every call, with blocking waits for tests
//! that run a backend on another thread.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xen_traits::{DomId, EventChannels, EvtchnError, Port};

/// One recorded call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `notify(port)`
    Notify(Port),
    /// `unmask(port)`
    Unmask(Port),
    /// `mask(port)`
    Mask(Port),
    /// `alloc_unbound(remote)` and the port it returned.
    AllocUnbound(DomId, Port),
    /// `bind_interdomain(remote, remote_port)` and the port it returned.
    BindInterdomain(DomId, Port, Port),
    /// `close(port)`
    Close(Port),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    Unbound(DomId),
    Interdomain(DomId, Port),
}

#[derive(Debug)]
struct PortState {
    binding: Binding,
    masked: bool,
    pending: bool,
    /// Events received on this port (before masking).
    received: u64,
}

#[derive(Debug, Default)]
struct HubState {
    ports: HashMap<(DomId, Port), PortState>,
    next_port: HashMap<DomId, u32>,
    calls: Vec<(DomId, Call)>,
}

/// The fake hypervisor's event channel table, shared by all fake domains.
#[derive(Clone, Debug, Default)]
pub struct EventHub {
    inner: Arc<(Mutex<HubState>, Condvar)>,
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> EventHub {
        Self::default()
    }

    /// The event channel service of domain `dom`.
    pub fn domain(&self, dom: DomId) -> FakeEventChannels {
        FakeEventChannels {
            hub: self.clone(),
            dom,
        }
    }

    /// Connect `a` and `b` the way a split driver does: `a` allocates an unbound port for `b`, `b` binds to
    /// it. Returns (`a`'s port, `b`'s port).
    pub fn connect(&self, a: DomId, b: DomId) -> (Port, Port) {
        let pa = self.domain(a).alloc_unbound(b).expect("alloc_unbound");
        let pb = self
            .domain(b)
            .bind_interdomain(a, pa)
            .expect("bind_interdomain");
        (pa, pb)
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One domain's view of the [`EventHub`]; implements [`EventChannels`].
#[derive(Clone, Debug)]
pub struct FakeEventChannels {
    hub: EventHub,
    dom: DomId,
}

impl FakeEventChannels {
    /// The domain.
    pub fn domid(&self) -> DomId {
        self.dom
    }

    /// Every call this domain made, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.hub
            .lock()
            .calls
            .iter()
            .filter(|(d, _)| *d == self.dom)
            .map(|(_, c)| *c)
            .collect()
    }

    /// How many times this domain notified `port`.
    pub fn notify_count(&self, port: Port) -> usize {
        self.calls()
            .iter()
            .filter(|c| **c == Call::Notify(port))
            .count()
    }

    /// Events received on `port` so far.
    pub fn received(&self, port: Port) -> u64 {
        self.hub
            .lock()
            .ports
            .get(&(self.dom, port))
            .map(|p| p.received)
            .unwrap_or(0)
    }

    /// Whether `port` is masked.
    pub fn is_masked(&self, port: Port) -> bool {
        self.hub
            .lock()
            .ports
            .get(&(self.dom, port))
            .is_some_and(|p| p.masked)
    }

    /// Consume the pending bit of `port` (true if an event was pending).
    pub fn take_pending(&self, port: Port) -> bool {
        let mut h = self.hub.lock();
        match h.ports.get_mut(&(self.dom, port)) {
            Some(p) if p.pending && !p.masked => {
                p.pending = false;
                true
            }
            _ => false,
        }
    }

    /// Block until `port` has a pending (unmasked) event or `stop()` is true, then consume it. Returns
    /// false on timeout — a guard against hung tests, not a synchronisation mechanism.
    pub fn wait_pending(&self, port: Port, timeout: Duration, stop: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.hub.inner;
        let mut h = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if stop() {
                return true;
            }
            if let Some(p) = h.ports.get_mut(&(self.dom, port)) {
                if p.pending && !p.masked {
                    p.pending = false;
                    return true;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            h = cv
                .wait_timeout(h, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wake every thread blocked in [`FakeEventChannels::wait_pending`] (so it re-checks its `stop`).
    pub fn wake_all(&self) {
        self.hub.inner.1.notify_all();
    }

    fn record(h: &mut HubState, dom: DomId, c: Call) {
        h.calls.push((dom, c));
    }
}

impl EventChannels for FakeEventChannels {
    fn notify(&self, port: Port) {
        let mut h = self.hub.lock();
        Self::record(&mut h, self.dom, Call::Notify(port));
        let peer = match h.ports.get(&(self.dom, port)) {
            Some(PortState {
                binding: Binding::Interdomain(d, p),
                ..
            }) => Some((*d, *p)),
            _ => None,
        };
        if let Some(key) = peer {
            if let Some(p) = h.ports.get_mut(&key) {
                p.pending = true;
                p.received += 1;
            }
        }
        drop(h);
        self.hub.inner.1.notify_all();
    }

    fn unmask(&self, port: Port) {
        let mut h = self.hub.lock();
        Self::record(&mut h, self.dom, Call::Unmask(port));
        if let Some(p) = h.ports.get_mut(&(self.dom, port)) {
            p.masked = false;
        }
        drop(h);
        self.hub.inner.1.notify_all();
    }

    fn mask(&self, port: Port) {
        let mut h = self.hub.lock();
        Self::record(&mut h, self.dom, Call::Mask(port));
        if let Some(p) = h.ports.get_mut(&(self.dom, port)) {
            p.masked = true;
        }
    }

    fn alloc_unbound(&self, remote: DomId) -> Result<Port, EvtchnError> {
        let mut h = self.hub.lock();
        let next = h.next_port.entry(self.dom).or_insert(1);
        let port = Port(*next);
        *next += 1;
        h.ports.insert(
            (self.dom, port),
            PortState {
                binding: Binding::Unbound(remote),
                masked: false,
                pending: false,
                received: 0,
            },
        );
        Self::record(&mut h, self.dom, Call::AllocUnbound(remote, port));
        Ok(port)
    }

    fn bind_interdomain(&self, remote: DomId, remote_port: Port) -> Result<Port, EvtchnError> {
        let mut h = self.hub.lock();
        match h.ports.get(&(remote, remote_port)) {
            Some(PortState {
                binding: Binding::Unbound(d),
                ..
            }) if *d == self.dom => {}
            _ => return Err(EvtchnError::InvalidRemote),
        }
        let next = h.next_port.entry(self.dom).or_insert(1);
        let port = Port(*next);
        *next += 1;
        h.ports.insert(
            (self.dom, port),
            PortState {
                binding: Binding::Interdomain(remote, remote_port),
                masked: false,
                pending: false,
                received: 0,
            },
        );
        if let Some(p) = h.ports.get_mut(&(remote, remote_port)) {
            p.binding = Binding::Interdomain(self.dom, port);
        }
        Self::record(
            &mut h,
            self.dom,
            Call::BindInterdomain(remote, remote_port, port),
        );
        Ok(port)
    }

    fn close(&self, port: Port) -> Result<(), EvtchnError> {
        let mut h = self.hub.lock();
        Self::record(&mut h, self.dom, Call::Close(port));
        let st = h
            .ports
            .remove(&(self.dom, port))
            .ok_or(EvtchnError::InvalidPort)?;
        if let Binding::Interdomain(d, p) = st.binding {
            if let Some(peer) = h.ports.get_mut(&(d, p)) {
                peer.binding = Binding::Unbound(self.dom);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_notify_close() {
        let hub = EventHub::new();
        let (g, b) = hub.connect(DomId(5), DomId(0));
        let guest = hub.domain(DomId(5));
        let back = hub.domain(DomId(0));
        assert!(!back.take_pending(b));
        guest.notify(g);
        guest.notify(g);
        assert!(back.take_pending(b));
        assert!(!back.take_pending(b));
        assert_eq!(back.received(b), 2);
        assert_eq!(guest.notify_count(g), 2);
        back.mask(b);
        guest.notify(g);
        assert!(
            !back.take_pending(b),
            "masked ports stay pending but are not delivered"
        );
        back.unmask(b);
        assert!(back.take_pending(b));
        assert_eq!(
            guest.bind_interdomain(DomId(0), Port(99)),
            Err(EvtchnError::InvalidRemote)
        );
        guest.close(g).unwrap();
        assert_eq!(guest.close(g), Err(EvtchnError::InvalidPort));
        back.notify(b); // peer closed: goes nowhere
        assert!(!guest.take_pending(g));
    }
}
