//! Deliberate faults, for the crash example and tests of the exception path.

/// Loads from address 0x10, inside page 0, which the boot page tables leave unmapped: raises a page
/// fault (CR2 = 0x10) that the exception handler reports; never returns. The load is done in assembly,
/// so no Rust-level null dereference takes place.
#[cfg(target_os = "none")]
pub fn read_null_page() -> ! {
    // SAFETY: the load faults (page 0 is never mapped, see entry.rs); the exception handler never
    // resumes this code, so nothing observes a value.
    unsafe { core::arch::asm!("mov rax, qword ptr [0x10]", out("rax") _, options(nostack, readonly)) };
    unreachable!("page 0 is mapped: the null guard is broken (our bug)")
}
