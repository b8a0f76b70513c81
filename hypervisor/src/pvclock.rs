//! The PV clock: Xen's `vcpu_time_info` turns a TSC reading into Xen system time (ns). Pure logic over
//! [`TimeSource`] (the real one reads `shared_info` volatile, see `shared_info.rs`), host-tested with
//! known vectors.
//!
//! A record is consistent when its `version` is even and unchanged across the read (Xen makes it odd
//! while updating). System time = `system_time + scale(tsc - tsc_timestamp)`, where
//! `scale(d) = ((d << shift) * mul) >> 32` (shift may be negative), computed in 128 bits.

/// One consistent copy of `vcpu_time_info` (without the version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeInfo {
    pub tsc_timestamp: u64,
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    pub flags: u8,
}

/// Where the record lives. `version` must be an acquire load; `fields` plain volatile reads.
pub trait TimeSource {
    fn version(&self) -> u32;
    fn fields(&self) -> TimeInfo;
}

/// Reads a consistent record: retries while the version is odd (an update is in progress) or changed
/// while reading. Gives up after `max_tries` (a hypervisor that never finishes an update) with `None`.
pub fn read_consistent(src: &impl TimeSource, max_tries: u32) -> Option<TimeInfo> {
    for _ in 0..max_tries {
        let v1 = src.version();
        if v1 & 1 != 0 {
            core::hint::spin_loop();
            continue;
        }
        let info = src.fields();
        if src.version() == v1 {
            return Some(info);
        }
    }
    None
}

/// `((delta << shift) * mul) >> 32`, with a negative shift meaning a right shift; no overflow.
pub fn scale_delta(delta: u64, mul: u32, shift: i8) -> u64 {
    let d = u128::from(delta);
    let d = if shift >= 0 { d << (shift as u32).min(63) } else { d >> u32::from(shift.unsigned_abs()).min(127) };
    let ns = (d * u128::from(mul)) >> 32;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

impl TimeInfo {
    /// Xen system time (ns) at TSC value `tsc`. A TSC below the record's timestamp (not expected on one
    /// vCPU) counts as no time elapsed.
    pub fn system_time_at(&self, tsc: u64) -> u64 {
        let delta = tsc.saturating_sub(self.tsc_timestamp);
        self.system_time.wrapping_add(scale_delta(delta, self.tsc_to_system_mul, self.tsc_shift))
    }
}

/// Wall-clock time of Xen system time 0 (`wc_sec`/`wc_nsec`/`wc_sec_hi` of `shared_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WallBase {
    pub sec: u64,
    pub nsec: u32,
}

impl WallBase {
    /// Wall-clock time (seconds, nanoseconds since the Unix epoch) at system time `system_ns`.
    pub fn at(&self, system_ns: u64) -> (u64, u32) {
        let total = u128::from(self.nsec) + u128::from(system_ns);
        let sec = self.sec.saturating_add((total / 1_000_000_000) as u64);
        (sec, (total % 1_000_000_000) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Xen's own `compute_scale` (xen/arch/x86/time.c): mul and shift for a TSC of `hz`.
    fn compute_scale(hz: u64) -> (u32, i8) {
        let tps64 = hz;
        let mut tps32: u32;
        let mut shift: i8 = 0;
        let mut t = tps64;
        while t > 2 * 1_000_000_000u64 {
            // not (u64)1e9 << 1 exactly as Xen writes it, but the same bound
            t >>= 1;
            shift -= 1;
        }
        tps32 = t as u32;
        let mut ns32: u32 = 1_000_000_000;
        while tps32 <= ns32 {
            tps32 <<= 1;
            shift += 1;
        }
        // Xen: mul_frac = div_frac(ns32, tps32) = (ns32 << 32) / tps32
        let _ = &mut ns32;
        let mul = ((u64::from(ns32) << 32) / u64::from(tps32)) as u32;
        (mul, shift)
    }

    #[test]
    fn known_vectors() {
        // 2 GHz: mul 2^31, no shift: 2e9 ticks = 1 s.
        assert_eq!(scale_delta(2_000_000_000, 1 << 31, 0), 1_000_000_000);
        // 4 GHz: shift -1.
        assert_eq!(scale_delta(4_000_000_000, 1 << 31, -1), 1_000_000_000);
        // 1 GHz: shift +1.
        assert_eq!(scale_delta(1_000_000_000, 1 << 31, 1), 1_000_000_000);
        // A product beyond 64 bits: 2^40 ticks * (2^32 - 1) >> 32.
        assert_eq!(scale_delta(1 << 40, u32::MAX, 0), (1u64 << 40) - (1 << 8));
        assert_eq!(scale_delta(0, u32::MAX, 5), 0);
    }

    #[test]
    fn xen_scale_factors_give_one_second_per_second() {
        for hz in [1_000_000_000u64, 2_100_000_000, 2_994_368_000, 3_600_000_000, 24_000_000, 5_000_000_000] {
            let (mul, shift) = compute_scale(hz);
            let ns = scale_delta(hz, mul, shift);
            assert!(ns.abs_diff(1_000_000_000) <= 2, "{hz} Hz: mul {mul:#x} shift {shift}: {ns} ns");
            // An hour of ticks does not overflow and stays within 1 us/s.
            let hour = scale_delta(hz * 3600, mul, shift);
            assert!(hour.abs_diff(3_600_000_000_000) < 3_600_000, "{hz}: {hour}");
        }
    }

    #[test]
    fn system_time_adds_the_scaled_delta() {
        let t = TimeInfo { tsc_timestamp: 1_000, system_time: 5_000_000, tsc_to_system_mul: 1 << 31, tsc_shift: 0, flags: 0 };
        assert_eq!(t.system_time_at(3_000), 5_001_000);
        assert_eq!(t.system_time_at(500), 5_000_000, "TSC behind the record counts as 0");
    }

    struct Fake {
        versions: Vec<u32>,
        at: Cell<usize>,
        info: TimeInfo,
    }

    impl TimeSource for Fake {
        fn version(&self) -> u32 {
            let i = self.at.get();
            self.at.set(i + 1);
            self.versions[i.min(self.versions.len() - 1)]
        }
        fn fields(&self) -> TimeInfo {
            self.info
        }
    }

    #[test]
    fn retries_while_odd_or_changed() {
        let info = TimeInfo { system_time: 42, ..Default::default() };
        // odd, then 2 -> 4 (changed during the read), then 4 -> 4.
        let f = Fake { versions: vec![1, 2, 4, 4, 4], at: Cell::new(0), info };
        assert_eq!(read_consistent(&f, 10), Some(info));
        assert_eq!(f.at.get(), 5);
        let stuck = Fake { versions: vec![7], at: Cell::new(0), info };
        assert_eq!(read_consistent(&stuck, 10), None);
    }

    #[test]
    fn wall_clock_carries_nanoseconds() {
        let w = WallBase { sec: 1_700_000_000, nsec: 900_000_000 };
        assert_eq!(w.at(0), (1_700_000_000, 900_000_000));
        assert_eq!(w.at(200_000_000), (1_700_000_001, 100_000_000));
        assert_eq!(w.at(5_000_000_000), (1_700_000_005, 900_000_000));
    }
}
