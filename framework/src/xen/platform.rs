//! The executor's [`Platform`] on Xen: the PV clock, `VCPUOP_set_singleshot_timer` (firing
//! `VIRQ_TIMER`), the fair pending-bit scan, and blocking until an event (see
//! [`XenEvents::wait`](hypervisor::evtchn::channels::XenEvents::wait)).
//!
//! Each delivered port, timer fire, block and wake-up is also noted in the flight recorder
//! ([`pvh_boot::flight`]), which crash reports print: a few stores each, nothing per packet or per poll.

use core::sync::atomic::{AtomicU64, Ordering};

use pvh_boot::flight::{self, Kind};

use crate::executor::Platform;
use crate::xen::{services, Services, SetupError};

/// Counts what the platform did, for reports (e.g. how often an idle guest woke up).
#[derive(Debug, Default)]
pub struct PlatformStats {
    pub blocks: AtomicU64,
    pub timer_sets: AtomicU64,
    pub events: AtomicU64,
    pub timer_fires: AtomicU64,
}

/// The deadline last given to `set_timer` (u64::MAX: none), for the flight recorder's block events.
static DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

static STATS: PlatformStats =
    PlatformStats { blocks: AtomicU64::new(0), timer_sets: AtomicU64::new(0), events: AtomicU64::new(0), timer_fires: AtomicU64::new(0) };

/// What the platform did so far: (blocks, timer settings, event ports delivered, timer fires).
pub fn stats() -> (u64, u64, u64, u64) {
    (
        STATS.blocks.load(Ordering::Relaxed),
        STATS.timer_sets.load(Ordering::Relaxed),
        STATS.events.load(Ordering::Relaxed),
        STATS.timer_fires.load(Ordering::Relaxed),
    )
}

#[derive(Clone, Copy)]
pub struct XenPlatform {
    s: &'static Services,
}

impl XenPlatform {
    pub fn new() -> Result<XenPlatform, SetupError> {
        services().map(|s| XenPlatform { s })
    }
}

impl Platform for XenPlatform {
    fn now_ns(&self) -> u64 {
        self.s.clock.now_ns()
    }

    fn set_timer(&self, deadline_ns: Option<u64>) {
        STATS.timer_sets.fetch_add(1, Ordering::Relaxed);
        DEADLINE.store(deadline_ns.unwrap_or(u64::MAX), Ordering::Relaxed);
        let r = match deadline_ns {
            // A deadline already past fires at once, which ends the next block: nothing is lost.
            Some(ns) => self.s.xen.set_singleshot_timer(0, self.s.clock.to_system_ns(ns)),
            None => self.s.xen.stop_singleshot_timer(0),
        };
        if let Err(e) = r {
            // Without a timer a sleeping task would never wake: that is a platform failure, not an app error.
            panic!("xenolith: VCPUOP singleshot timer failed (Xen error {})", e.0);
        }
    }

    fn drain_events(&self, f: &mut dyn FnMut(u32)) {
        let timer = self.s.timer_port.0;
        self.s.events.drain(&mut |port| {
            // The timer port only ends a block; the executor checks its deadlines against the clock.
            if port == timer {
                STATS.timer_fires.fetch_add(1, Ordering::Relaxed);
                flight::record(Kind::Timer, u64::from(port), 0);
            } else {
                STATS.events.fetch_add(1, Ordering::Relaxed);
                flight::record(Kind::Event, u64::from(port), 0);
                f(port)
            }
        });
    }

    fn wait_for_event(&self) {
        STATS.blocks.fetch_add(1, Ordering::Relaxed);
        let timer_in_us = match DEADLINE.load(Ordering::Relaxed) {
            u64::MAX => u64::MAX,
            deadline => deadline.saturating_sub(self.now_ns()) / 1000,
        };
        flight::record(Kind::Block, timer_in_us, 0);
        self.s.events.wait();
        flight::record(Kind::Wake, pvh_boot::upcall::count(), 0);
    }
}
