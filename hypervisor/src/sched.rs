//! `__HYPERVISOR_sched_op`: yield and shutdown.

use xen_sys::{sched_shutdown, SCHEDOP_shutdown, SCHEDOP_yield, __HYPERVISOR_sched_op};

use crate::hypercall::Xen;

// `sti; hlt` as a function of its own, so the `hlt` has one known address (`xen_sti_hlt_hlt`): the
// upcall stub in pvh-boot compares the interrupted RIP with it (see `block_unless`).
core::arch::global_asm!(
    ".section .text.xen_sti_hlt, \"ax\"",
    ".global xen_sti_hlt",
    ".global xen_sti_hlt_hlt",
    "xen_sti_hlt:",
    "    sti",
    "xen_sti_hlt_hlt:",
    "    hlt",
    "    ret",
);

extern "C" {
    fn xen_sti_hlt();
}

/// Reasons for `SCHEDOP_shutdown` (`sched.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    Poweroff = xen_sys::SHUTDOWN_poweroff,
    Reboot = xen_sys::SHUTDOWN_reboot,
    Crash = xen_sys::SHUTDOWN_crash,
}

impl Xen {
    /// Gives the CPU to other domains for a moment.
    pub fn sched_yield(&self) {
        // SAFETY: SCHEDOP_yield takes no argument (NULL).
        unsafe { self.call(__HYPERVISOR_sched_op, [u64::from(SCHEDOP_yield), 0, 0, 0, 0]) };
    }

    /// Asks Xen to shut this domain down. Does not return: if Xen ever resumes the vCPU, it halts.
    pub fn shutdown(&self, reason: ShutdownReason) -> ! {
        let arg = sched_shutdown { reason: reason as u32 };
        // SAFETY: SCHEDOP_shutdown takes a pointer to a `struct sched_shutdown` (size checked against
        // the C header), which lives on our stack for the duration of the call.
        unsafe {
            self.call(__HYPERVISOR_sched_op, [u64::from(SCHEDOP_shutdown), &arg as *const _ as u64, 0, 0, 0])
        };
        halt_forever()
    }
}

/// Disables interrupts and halts, forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli/hlt only stop this vCPU; nothing is left to run.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Blocks this vCPU unless `pending()` says an event is waiting. Interrupts are disabled for the
/// check; `sti; hlt` then enables them for the `hlt` only (STI's shadow), so an event that arrives after
/// the check keeps `evtchn_upcall_pending` set and Xen's HLT handling (`SCHEDOP_block` for an HVM vCPU
/// with IF = 1) does not block. Returns with interrupts disabled, after the upcall (if any) ran.
///
/// The shadow is not always honoured under the lab's nested SVM (QEMU TCG): the upcall can land
/// between `sti` and `hlt`; its stub clears `evtchn_upcall_pending` and would return into the `hlt`,
/// and the vCPU would block with a port pending (an http guest went silent that way). So the stub
/// returns past the `hlt` when it interrupted exactly there (`xen_sti_hlt_hlt`, `pvh_boot::upcall`).
pub fn block_unless(pending: impl Fn() -> bool) {
    // SAFETY: cli only masks interrupts on this vCPU.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
    if pending() {
        return;
    }
    // SAFETY: the upcall gate (the only interrupt Xenolith enables) is installed before events are set
    // up; it clears a flag and returns. The red zone is disabled on this target, so an interrupt on the
    // current stack is safe. Interrupts are masked again before returning.
    unsafe { xen_sti_hlt() };
    // SAFETY: cli only masks interrupts on this vCPU.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
}
