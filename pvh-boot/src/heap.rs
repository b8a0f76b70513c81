//! The heap: every piece of RAM in the memory map that the image, the loaded modules and the first
//! MiB do not use, handed to one global allocator (target only). Which pieces that are is planned by the
//! pure [`plan`] (host-tested).
//!
//! Allocator: `talc` (a well-kept no_std allocator: several disjoint arenas — RAM below the image,
//! above it, above 4 GiB — in one allocator, O(1) allocation, any alignment, so page-aligned ring and
//! grant pages come from it too). `linked_list_allocator` takes one contiguous region only, and a
//! hand-written one would need its own proof of correctness.

use core::ops::Range;

use crate::paging::{HighRam, LOW_MAPPED};
use crate::start_info::MemoryRegion;

/// The first MiB (real-mode area, page 0 which is unmapped, loader data) is never heap.
pub const LOW_LIMIT: u64 = 1 << 20;
const PAGE: u64 = 4096;
/// Most heap ranges kept.
pub const MAX_RANGES: usize = 16;

/// The ranges the heap may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapPlan {
    ranges: [(u64, u64); MAX_RANGES],
    len: usize,
}

impl HeapPlan {
    pub fn ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges[..self.len].iter().map(|&(s, e)| s..e)
    }

    pub fn bytes(&self) -> u64 {
        self.ranges().map(|r| r.end - r.start).sum()
    }

    fn push(&mut self, start: u64, end: u64) {
        let (start, end) = (start.next_multiple_of(PAGE), end & !(PAGE - 1));
        if end > start && self.len < MAX_RANGES {
            self.ranges[self.len] = (start, end);
            self.len += 1;
        }
    }
}

/// RAM of `memmap` that is mapped (below 4 GiB, or in `high`'s slots), at or above [`LOW_LIMIT`],
/// outside every range of `exclude`, page-aligned.
pub fn plan(memmap: &[MemoryRegion], high: &HighRam, exclude: &[Range<u64>]) -> HeapPlan {
    let mut out = HeapPlan::default();
    let low = memmap
        .iter()
        .filter(|r| r.is_ram())
        .map(|r| (r.addr.max(LOW_LIMIT), (r.addr + r.size).min(LOW_MAPPED)));
    let high = high.slots.ram_ranges(memmap);
    for (start, end) in low.chain(high) {
        if start < end {
            subtract(start, end, exclude, &mut |s, e| out.push(s, e));
        }
    }
    out
}

/// Calls `out` for the parts of `[start, end)` outside all `exclude` ranges, in address order.
fn subtract(start: u64, end: u64, exclude: &[Range<u64>], out: &mut dyn FnMut(u64, u64)) {
    let mut cursor = start;
    while cursor < end {
        // The exclusion that covers `cursor`, or the nearest one above it.
        let covering = exclude.iter().filter(|x| x.start <= cursor && cursor < x.end).map(|x| x.end).max();
        if let Some(skip_to) = covering {
            cursor = skip_to;
            continue;
        }
        let next = exclude.iter().filter(|x| x.start > cursor).map(|x| x.start).min().unwrap_or(end).min(end);
        out(cursor, next);
        cursor = next;
    }
}

#[cfg(target_os = "none")]
pub use target::{init, usage};

/// How the heap is used right now (talc's counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapUsage {
    /// Bytes in live allocations (as requested).
    pub allocated: u64,
    /// Bytes free for allocation.
    pub available: u64,
    /// Live allocations.
    pub allocations: u64,
}

#[cfg(target_os = "none")]
mod target {
    use super::*;
    use talc::{ErrOnOom, Span, Talc, Talck};

    #[global_allocator]
    static ALLOCATOR: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();

    /// Gives the planned ranges to the allocator. Call once, at boot, before anything allocates.
    /// Returns the bytes claimed.
    pub fn init(plan: &HeapPlan) -> u64 {
        let mut talc = ALLOCATOR.lock();
        let mut bytes = 0;
        for r in plan.ranges() {
            // SAFETY: the range is RAM of the memory map, mapped by the boot page tables (low 4 GiB or the
            // high slots just mapped), outside the image, the modules and the first MiB (plan's
            // contract), and no other heap overlaps it: nothing else uses this memory.
            if let Ok(span) = unsafe { talc.claim(Span::new(r.start as *mut u8, r.end as *mut u8)) } {
                bytes += span.size() as u64;
            }
        }
        bytes
    }

    /// The heap's current usage (takes the allocator's lock for a moment: not from an allocation).
    pub fn usage() -> HeapUsage {
        let talc = ALLOCATOR.lock();
        let c = talc.get_counters();
        HeapUsage {
            allocated: c.allocated_bytes as u64,
            available: c.available_bytes as u64,
            allocations: c.allocation_count as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::HighSlots;
    use hypervisor::abi::start_info::{XEN_HVM_MEMMAP_TYPE_RAM as RAM, XEN_HVM_MEMMAP_TYPE_RESERVED as RES};

    fn r(addr: u64, size: u64, kind: u32) -> MemoryRegion {
        MemoryRegion { addr, size, kind }
    }

    #[test]
    fn small_guest_heap_is_ram_above_1m_minus_the_image() {
        let map = [r(0, 32 << 20, RAM), r(0xfeff_8000, 0x8000, RES)];
        let image = 0x10_0000..0x13_2345;
        let p = plan(&map, &HighRam::default(), &[image]);
        assert_eq!(p.ranges().collect::<Vec<_>>(), vec![0x13_3000..(32 << 20)]);
        assert_eq!(p.bytes(), (32 << 20) - 0x13_3000);
    }

    #[test]
    fn modules_and_holes_are_cut_out() {
        let map = [r(0, 0xa_0000, RAM), r(0x10_0000, 64 << 20, RAM)];
        let exclude = [0x10_0000..0x20_0000, 0x80_0000..0x90_0800, 0x30_0000..0x40_0000];
        let p = plan(&map, &HighRam::default(), &exclude);
        assert_eq!(
            p.ranges().collect::<Vec<_>>(),
            vec![0x20_0000..0x30_0000, 0x40_0000..0x80_0000, 0x90_1000..0x410_0000]
        );
    }

    #[test]
    fn overlapping_exclusions_and_unaligned_ram() {
        let map = [r(0x10_0800, 0x10_0000, RAM)];
        let exclude = [0x10_0000..0x15_0000, 0x14_0000..0x18_0000];
        let p = plan(&map, &HighRam::default(), &exclude);
        assert_eq!(p.ranges().collect::<Vec<_>>(), vec![0x18_0000..0x20_0000]);
    }

    #[test]
    fn ram_above_4g_only_where_mapped() {
        let gib = 1u64 << 30;
        let map = [r(0, 0xf000_0000, RAM), r(4 * gib, 2 * gib, RAM)];
        let mut slots = HighSlots::default();
        slots.insert(4);
        let high = HighRam { slots, mapped_bytes: gib, unmapped_bytes: gib, used_1g_pages: true };
        let image = 0x10_0000..0x20_0000;
        let p = plan(&map, &high, core::slice::from_ref(&image));
        assert_eq!(p.ranges().collect::<Vec<_>>(), vec![0x20_0000..0xf000_0000, 4 * gib..5 * gib]);
    }

    #[test]
    fn reserved_and_low_memory_never_heap() {
        let map = [r(0, 0x10_0000, RAM), r(0x10_0000, 0x1000, RES)];
        assert_eq!(plan(&map, &HighRam::default(), &[]).bytes(), 0);
    }
}
