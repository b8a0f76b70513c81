//! Page tables. The 32-bit entry identity-maps the first 4 GiB with 2 MiB pages (the first 2 MiB with
//! 4 KiB pages); once the start info is copied, [`enable_guards`] unmaps page 0 (null pointers) and
//! the page below the boot stack (stack overflow). [`map_high_ram`] then maps RAM above
//! 4 GiB from the memory map in 1 GiB steps: with 1 GiB pages when the CPU has them, otherwise with
//! 2 MiB pages from a small static pool. The slot planning is pure and host-tested.

use crate::start_info::MemoryRegion;

const GIB: u64 = 1 << 30;
/// One PDPT covers the first 512 GiB; RAM beyond that is reported as unmapped.
pub const MAX_MAPPED: u64 = 512 * GIB;
/// Already mapped by the 32-bit entry.
pub const LOW_MAPPED: u64 = 4 * GIB;

/// Which 1 GiB slots (PDPT entries 4..512) hold RAM that needs mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HighSlots {
    bits: [u64; 8],
}

impl HighSlots {
    pub fn plan(memmap: &[MemoryRegion]) -> (HighSlots, u64) {
        let mut slots = HighSlots::default();
        let mut beyond = 0;
        for r in memmap.iter().filter(|r| r.is_ram() && r.size > 0) {
            let (start, end) = (r.addr.max(LOW_MAPPED), r.addr + r.size);
            if end <= start {
                continue;
            }
            beyond += end.saturating_sub(start.max(MAX_MAPPED));
            let last = end.min(MAX_MAPPED);
            if start < last {
                for slot in start / GIB..=(last - 1) / GIB {
                    slots.bits[(slot / 64) as usize] |= 1 << (slot % 64);
                }
            }
        }
        (slots, beyond)
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..512u64).filter(|&s| self.contains(s))
    }

    pub fn contains(&self, slot: u64) -> bool {
        slot < 512 && self.bits[(slot / 64) as usize] & (1 << (slot % 64)) != 0
    }

    pub fn insert(&mut self, slot: u64) {
        if slot < 512 {
            self.bits[(slot / 64) as usize] |= 1 << (slot % 64);
        }
    }

    /// The parts of RAM regions (above 4 GiB) that lie in these slots, as (start, end) ranges, one per
    /// region and slot.
    pub fn ram_ranges<'a>(&'a self, memmap: &'a [MemoryRegion]) -> impl Iterator<Item = (u64, u64)> + 'a {
        memmap.iter().filter(|r| r.is_ram()).flat_map(move |r| {
            self.iter().filter_map(move |slot| {
                let start = r.addr.max(slot * GIB).max(LOW_MAPPED);
                let end = (r.addr + r.size).min((slot + 1) * GIB);
                (start < end).then_some((start, end))
            })
        })
    }
}

/// What [`map_high_ram`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HighRam {
    /// 1 GiB slots above 4 GiB now mapped.
    pub slots: HighSlots,
    /// RAM bytes above 4 GiB mapped.
    pub mapped_bytes: u64,
    /// RAM bytes left unmapped (beyond 512 GiB, or the 2 MiB pool ran out).
    pub unmapped_bytes: u64,
    pub used_1g_pages: bool,
}

#[cfg(target_os = "none")]
pub use target::{enable_guards, map_high_ram, probe_high_ram};

#[cfg(target_os = "none")]
mod target {
    use super::*;
    use core::ptr::addr_of_mut;

    /// Present | writable.
    const PW: u64 = 0b11;
    /// Present | writable | page size.
    const PWS: u64 = 0x83;
    /// 2 MiB page directories for RAM above 4 GiB when there are no 1 GiB pages: 4 GiB more.
    const POOL: usize = 4;

    extern "C" {
        // Defined in entry.rs's assembly (.bss): the one PDPT, and the pool of page directories.
        static mut pvh_pdpt: [u64; 512];
        static mut pvh_pd_pool: [[u64; 512]; POOL];
        static mut pvh_pt0: [u64; 512];
    }

    extern "C" {
        static pvh_stack_guard: u8;
    }

    /// Unmaps page 0 (null pointers fault) and the guard page below the boot stack (an overflow faults
    /// instead of overwriting page tables). Call after the start info has been copied (QEMU puts its
    /// memory map in page 0). Returns whether the stack guard could be placed (the image must lie
    /// within the first 2 MiB, which the 4 KiB table covers).
    pub fn enable_guards() -> bool {
        let guard = (&raw const pvh_stack_guard) as u64;
        let mut pages = [Some(0u64), None];
        if guard < (2 << 20) {
            pages[1] = Some(guard >> 12);
        }
        for page in pages.into_iter().flatten() {
            // SAFETY: boot-time, single CPU; `page < 512` indexes the first 4 KiB table. Page 0 holds
            // no Rust object; the guard page is reserved for this purpose in entry.rs and never used.
            // invlpg drops the stale TLB entry.
            unsafe {
                addr_of_mut!(pvh_pt0[page as usize]).write_volatile(0);
                core::arch::asm!("invlpg [{}]", in(reg) page << 12, options(nostack, preserves_flags));
            }
        }
        pages[1].is_some()
    }

    /// Reads the first and last word of every piece of RAM above 4 GiB that [`map_high_ram`] mapped. A
    /// missing mapping faults here, at boot, with a crash report, instead of later in the application.
    pub fn probe_high_ram(memmap: &[MemoryRegion], high: &HighRam) {
        for (start, end) in high.slots.ram_ranges(memmap) {
            if end - start < 16 {
                continue;
            }
            for at in [(start + 7) & !7, (end - 8) & !7] {
                // SAFETY: `at` lies in a RAM region of the memory map that map_high_ram just mapped
                // (identity, present); RAM above 4 GiB holds no Rust object yet, and the read has no
                // side effect.
                unsafe { core::ptr::read_volatile(at as *const u64) };
            }
        }
    }

    fn has_1g_pages() -> bool {
        hypervisor::cpuid::cpuid(0x8000_0000, 0).eax >= 0x8000_0001
            && hypervisor::cpuid::cpuid(0x8000_0001, 0).edx & (1 << 26) != 0
    }

    /// Maps the RAM above 4 GiB that the memory map lists. Call once, early, on the boot CPU. With the
    /// 2 MiB fallback the pool is used in slot order, so the mapped RAM is contiguous from 4 GiB.
    pub fn map_high_ram(memmap: &[MemoryRegion]) -> HighRam {
        let (wanted, beyond) = HighSlots::plan(memmap);
        let big = has_1g_pages();
        let mut mapped = HighSlots::default();
        let mut pool_used = 0;
        for slot in wanted.iter() {
            let base = slot * GIB;
            let entry = if big {
                base | PWS
            } else if pool_used < POOL {
                // SAFETY: boot-time, single CPU, no other reference to the pool exists; each pool page
                // is filled once before it is linked into the PDPT below.
                let pd = unsafe { &mut *addr_of_mut!(pvh_pd_pool[pool_used]) };
                for (i, e) in pd.iter_mut().enumerate() {
                    *e = (base + (i as u64) * (2 << 20)) | PWS;
                }
                pool_used += 1;
                pd.as_ptr() as u64 | PW
            } else {
                continue;
            };
            // SAFETY: `slot < 512` (HighSlots::iter); the PDPT entry for this slot was empty (only
            // slots 0..4 are set by the entry code); a new mapping needs no TLB flush.
            unsafe { addr_of_mut!(pvh_pdpt[slot as usize]).write_volatile(entry) };
            mapped.insert(slot);
        }
        let wanted_bytes: u64 = wanted.ram_ranges(memmap).map(|(s, e)| e - s).sum();
        let mapped_bytes: u64 = mapped.ram_ranges(memmap).map(|(s, e)| e - s).sum();
        HighRam { slots: mapped, mapped_bytes, unmapped_bytes: beyond + (wanted_bytes - mapped_bytes), used_1g_pages: big }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypervisor::abi::start_info::{XEN_HVM_MEMMAP_TYPE_RAM as RAM, XEN_HVM_MEMMAP_TYPE_RESERVED as RES};

    fn r(addr: u64, size: u64, kind: u32) -> MemoryRegion {
        MemoryRegion { addr, size, kind }
    }

    #[test]
    fn small_guest_needs_nothing() {
        let (s, beyond) = HighSlots::plan(&[r(0, 0xa0000, RAM), r(0x100000, 4 << 20, RAM), r(0xfc00_0000, 0x400_0000, RES)]);
        assert_eq!(s.iter().count(), 0);
        assert_eq!(beyond, 0);
    }

    #[test]
    fn ram_above_4g_maps_its_slots() {
        // memory = 5000 MiB: Xen puts ~904 MiB above 4 GiB.
        let (s, beyond) = HighSlots::plan(&[r(0, 0xf000_0000, RAM), r(4 * GIB, 904 << 20, RAM), r(0xfeff_8000, 0x8000, RES)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![4]);
        assert_eq!(beyond, 0);
        let (s, _) = HighSlots::plan(&[r(3 * GIB, 3 * GIB, RAM)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![4, 5]);
        let (s, _) = HighSlots::plan(&[r(4 * GIB + 10, GIB, RAM)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![4, 5], "an unaligned region touches two slots");
    }

    #[test]
    fn ram_ranges_split_regions_by_slot() {
        let map = [r(0, 0xf000_0000, RAM), r(4 * GIB + 100, 2 * GIB, RAM), r(9 * GIB, GIB, RES)];
        let (wanted, _) = HighSlots::plan(&map);
        assert_eq!(wanted.iter().collect::<Vec<_>>(), vec![4, 5, 6]);
        let all: Vec<_> = wanted.ram_ranges(&map).collect();
        assert_eq!(all, vec![(4 * GIB + 100, 5 * GIB), (5 * GIB, 6 * GIB), (6 * GIB, 6 * GIB + 100)]);
        let mut only5 = HighSlots::default();
        only5.insert(5);
        only5.insert(600); // out of range: ignored
        assert_eq!(only5.ram_ranges(&map).collect::<Vec<_>>(), vec![(5 * GIB, 6 * GIB)]);
        assert!(!only5.contains(4) && only5.contains(5));
    }

    #[test]
    fn ram_beyond_512g_is_counted_not_mapped() {
        let (s, beyond) = HighSlots::plan(&[r(511 * GIB, 3 * GIB, RAM)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![511]);
        assert_eq!(beyond, 2 * GIB);
    }
}
