//! PVH boot for Xenolith images.
//!
//! * [`entry`] (target): the `XEN_ELFNOTE_PHYS32_ENTRY` note and the 32-bit entry that builds page tables,
//!   enters long mode and calls Rust.
//! * [`gdt`], [`idt`] (target): GDT + TSS with IST stacks, exception gates and dispatch.
//! * [`exception`]: the saved state and the crash report (host-tested).
//! * [`flight`]: the flight recorder, a static ring of recent events the crash reports print (host-tested).
//! * [`start_info`]: the checked `hvm_start_info` reader (host-tested).
//! * [`paging`]: mapping RAM above 4 GiB.
//! * [`heap`]: the global allocator over the RAM the image does not use (plan host-tested).
//! * [`upcall`] (target): the event channel upcall gate.
//! * `link.ld`: the image layout, shipped by `build.rs` (link with `-C link-arg=-Txenolith-pvh.ld`).
//!
//! After setup, `pvh_boot_entry64` calls `__xenolith_boot_main(Boot) -> !`, which the application's
//! `xenolith::main!` defines.
#![cfg_attr(not(test), no_std)]

pub mod exception;
pub mod flight;
pub mod heap;
pub mod paging;
pub mod start_info;

#[cfg(target_os = "none")]
pub mod entry;
#[cfg(target_os = "none")]
pub mod fault;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod idt;
#[cfg(target_os = "none")]
pub mod memory;
#[cfg(target_os = "none")]
pub mod stop;
#[cfg(target_os = "none")]
pub mod upcall;

pub use exception::{ExceptionFrame, ExceptionReport};
pub use paging::HighRam;
pub use start_info::{MemoryRegion, Module, PhysMemory, StartInfo, StartInfoError};

/// What the boot code hands to the framework.
pub struct Boot {
    /// The validated start info, or why it was rejected.
    pub start_info: Result<StartInfo, StartInfoError>,
    /// The mapping of RAM above 4 GiB.
    pub high_ram: HighRam,
    /// Physical address the loader passed in `%ebx`.
    pub start_info_paddr: u64,
    /// Whether the page below the boot stack is unmapped (stack overflow faults).
    pub stack_guard: bool,
    /// Bytes given to the heap (0 when the start info was unusable).
    pub heap_bytes: u64,
}

/// Memory the heap must not use: the image, and the modules the loader placed.
#[cfg(target_os = "none")]
fn image_and_modules(info: &StartInfo) -> [core::ops::Range<u64>; 1 + start_info::MAX_MODULES] {
    extern "C" {
        static __image_start: u8;
        static __image_end: u8;
    }
    let mut out: [core::ops::Range<u64>; 1 + start_info::MAX_MODULES] = Default::default();
    out[0] = (&raw const __image_start) as u64..(&raw const __image_end) as u64;
    for (slot, m) in out[1..].iter_mut().zip(info.modules()) {
        *slot = m.paddr..m.paddr.saturating_add(m.size);
    }
    out
}

#[cfg(target_os = "none")]
#[no_mangle]
extern "C" fn pvh_boot_entry64(start_info_paddr: u64) -> ! {
    gdt::init();
    idt::init();
    let start_info = StartInfo::read(&memory::BootMemory, start_info_paddr);
    let stack_guard = paging::enable_guards();
    let high_ram = match &start_info {
        Ok(info) => {
            let high = paging::map_high_ram(info.memmap());
            paging::probe_high_ram(info.memmap(), &high);
            high
        }
        Err(_) => HighRam::default(),
    };
    let heap_bytes = match &start_info {
        Ok(info) => heap::init(&heap::plan(info.memmap(), &high_ram, &image_and_modules(info))),
        Err(_) => 0,
    };
    let boot = Boot { start_info, high_ram, start_info_paddr, stack_guard, heap_bytes };
    extern "Rust" {
        fn __xenolith_boot_main(boot: Boot) -> !;
    }
    // SAFETY: `__xenolith_boot_main` is defined by the application through `xenolith::main!`, with
    // exactly this signature; a missing definition is a link error, not a wrong call.
    unsafe { __xenolith_boot_main(boot) }
}
