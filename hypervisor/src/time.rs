//! Coarse deadlines from the TSC, for bounded waits before the PV clock exists. The TSC frequency comes
//! from Xen's time CPUID leaf (subleaf 0, ECX in kHz). RDTSC only: never RDTSCP (it loops forever under
//! the lab's emulated SVM without `tsc_mode="native"`).

use crate::cpuid::{cpuid, XenCpuid};

/// Used when Xen does not report a frequency: assume a fast TSC, which makes waits longer, not shorter.
const FALLBACK_TSC_KHZ: u64 = 4_000_000;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: u64,
}

pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// TSC ticks per millisecond.
pub fn tsc_khz(xen: XenCpuid) -> u64 {
    match xen.time_leaf() {
        Some(leaf) => match u64::from(cpuid(leaf, 0).ecx) {
            0 => FALLBACK_TSC_KHZ,
            khz => khz,
        },
        None => FALLBACK_TSC_KHZ,
    }
}

impl Deadline {
    pub fn after_ms(xen: XenCpuid, ms: u64) -> Deadline {
        Deadline { at: rdtsc().saturating_add(tsc_khz(xen).saturating_mul(ms)) }
    }

    pub fn passed(&self) -> bool {
        rdtsc() >= self.at
    }
}
