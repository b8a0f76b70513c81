//! PVH boot for Xenolith images.
//!
//! * [`entry`] (target): the `XEN_ELFNOTE_PHYS32_ENTRY` note and the 32-bit entry that builds page tables,
//!   enters long mode and calls Rust.
//! * [`gdt`], [`idt`] (target): GDT + TSS with IST stacks, exception gates and dispatch.
//! * [`exception`]: the saved state and the crash report (host-tested).
//! * [`start_info`]: the checked `hvm_start_info` reader (host-tested).
//! * [`paging`]: mapping RAM above 4 GiB.
//! * `link.ld`: the image layout, shipped by `build.rs` (link with `-C link-arg=-Txenolith-pvh.ld`).
//!
//! After setup, `pvh_boot_entry64` calls `__xenolith_boot_main(Boot) -> !`, which the application's
//! `xenolith::main!` defines.
#![cfg_attr(not(test), no_std)]

pub mod exception;
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
    let boot = Boot { start_info, high_ram, start_info_paddr, stack_guard };
    extern "Rust" {
        fn __xenolith_boot_main(boot: Boot) -> !;
    }
    // SAFETY: `__xenolith_boot_main` is defined by the application through `xenolith::main!`, with
    // exactly this signature; a missing definition is a link error, not a wrong call.
    unsafe { __xenolith_boot_main(boot) }
}
