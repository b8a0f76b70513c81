//! The domain's clocks on Xen: monotonic nanoseconds from the PV clock of vCPU 0, and the wall clock.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::pvclock::read_consistent;
use crate::shared_info::SharedInfo;
use crate::time::rdtsc;

/// Version-checked reads give up after this many tries (a hypervisor stuck mid-update): the clock then
/// repeats its last value instead of hanging.
const MAX_TRIES: u32 = 10_000;

pub struct Clock {
    shared: &'static SharedInfo,
    /// Xen system time when the clock was created ("boot").
    boot_system_ns: u64,
    /// Highest system time returned so far: the clock never goes backwards.
    last: AtomicU64,
}

impl Clock {
    pub fn new(shared: &'static SharedInfo) -> Clock {
        let mut c = Clock { shared, boot_system_ns: 0, last: AtomicU64::new(0) };
        c.boot_system_ns = c.system_ns();
        c
    }

    /// Xen system time (ns), never decreasing.
    pub fn system_ns(&self) -> u64 {
        let t = match read_consistent(&self.shared.time(0), MAX_TRIES) {
            // RDTSC only: RDTSCP loops forever under the lab's emulated SVM.
            Some(info) => info.system_time_at(rdtsc()),
            None => 0,
        };
        let prev = self.last.fetch_max(t, Ordering::AcqRel);
        prev.max(t)
    }

    /// Nanoseconds since this clock was created.
    pub fn now_ns(&self) -> u64 {
        self.system_ns().saturating_sub(self.boot_system_ns)
    }

    /// The Xen system time of monotonic instant `ns`.
    pub fn to_system_ns(&self, ns: u64) -> u64 {
        ns.saturating_add(self.boot_system_ns)
    }

    /// Wall-clock time: (seconds, nanoseconds) since the Unix epoch.
    pub fn wall(&self) -> (u64, u32) {
        self.shared.wall_base().at(self.system_ns())
    }
}
