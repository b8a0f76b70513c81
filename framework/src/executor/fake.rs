//! A deterministic platform for host tests: a virtual clock that only moves when the executor waits
//! (or a test says so), a one-shot timer that records its deadline, and scripted events.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::platform::Platform;

/// One call of `wait_for_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// Virtual time of the call.
    pub at: u64,
    /// The timer's deadline during the wait.
    pub armed: Option<u64>,
    /// Virtual time when it returned.
    pub until: u64,
}

#[derive(Default)]
struct State {
    now: u64,
    timer: Option<u64>,
    /// Ports fired and not drained yet, in firing order, each at most once (a pending bit).
    pending: Vec<u32>,
    /// Events to fire later: (time, port), kept sorted by time.
    script: Vec<(u64, u32)>,
    waits: Vec<Wait>,
    set_timer_calls: usize,
    /// The next timer expiry is seen this much before its deadline on the clock (once).
    early_fire_ns: u64,
}

/// Cloning shares the state: the test keeps one clone, `run` gets another.
#[derive(Clone, Default)]
pub struct FakePlatform {
    state: Arc<spin::Mutex<State>>,
}

/// More waits than this in one test means the executor spins.
const MAX_WAITS: usize = 100_000;

impl FakePlatform {
    pub fn new() -> FakePlatform {
        FakePlatform::default()
    }

    pub fn now(&self) -> u64 {
        self.state.lock().now
    }

    /// Fires `port` now (as a backend or a loopback channel would).
    pub fn raise(&self, port: u32) {
        let mut s = self.state.lock();
        if !s.pending.contains(&port) {
            s.pending.push(port);
        }
    }

    /// Fires `port` at virtual time `at_ns`.
    pub fn raise_at(&self, at_ns: u64, port: u32) {
        let mut s = self.state.lock();
        let i = s.script.partition_point(|&(t, _)| t <= at_ns);
        s.script.insert(i, (at_ns, port));
    }

    /// Lets `ns` of virtual time pass (a task computing), delivering the scripted events due meanwhile.
    pub fn advance(&self, ns: u64) {
        let mut s = self.state.lock();
        s.now += ns;
        s.deliver_due();
    }

    /// Every `wait_for_event` call so far.
    pub fn waits(&self) -> Vec<Wait> {
        self.state.lock().waits.clone()
    }

    pub fn set_timer_calls(&self) -> usize {
        self.state.lock().set_timer_calls
    }

    /// The next time the timer fires, the clock reads `ns` before the deadline (a guest clock that lags
    /// the hypervisor's by a hair): the wake-up looks early to the executor.
    pub fn fire_timer_early_once(&self, ns: u64) {
        self.state.lock().early_fire_ns = ns;
    }

    pub fn armed(&self) -> Option<u64> {
        self.state.lock().timer
    }
}

impl State {
    fn deliver_due(&mut self) {
        let due = self.script.partition_point(|&(t, _)| t <= self.now);
        for (_, port) in self.script.drain(..due).collect::<Vec<_>>() {
            if !self.pending.contains(&port) {
                self.pending.push(port);
            }
        }
    }
}

impl Platform for FakePlatform {
    fn now_ns(&self) -> u64 {
        self.state.lock().now
    }

    fn set_timer(&self, deadline_ns: Option<u64>) {
        let mut s = self.state.lock();
        s.timer = deadline_ns;
        s.set_timer_calls += 1;
    }

    fn drain_events(&self, f: &mut dyn FnMut(u32)) {
        let ports = core::mem::take(&mut self.state.lock().pending);
        ports.into_iter().for_each(f);
    }

    fn wait_for_event(&self) {
        let mut s = self.state.lock();
        assert!(s.waits.len() < MAX_WAITS, "FakePlatform: {MAX_WAITS} waits: the executor spins");
        let at = s.now;
        let armed = s.timer;
        if s.pending.is_empty() {
            let next_event = s.script.first().map(|&(t, _)| t);
            let wake = match (armed, next_event) {
                (Some(a), Some(b)) => a.min(b),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => panic!("FakePlatform: wait_for_event with no timer and no event: blocks forever"),
            };
            s.now = s.now.max(wake);
            if armed.is_some_and(|d| d <= s.now) {
                s.timer = None; // a one-shot timer fires once
                let early = core::mem::take(&mut s.early_fire_ns);
                s.now = s.now.saturating_sub(early).max(at);
            }
            s.deliver_due();
        }
        let until = s.now;
        s.waits.push(Wait { at, armed, until });
    }
}
