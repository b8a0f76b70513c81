//! The event channel upcall gate (target only). Xen injects [`VECTOR`] while vCPU 0's
//! `evtchn_upcall_pending` is set and interrupts are enabled (`HVM_PARAM_CALLBACK_IRQ`, vector type:
//! no local APIC EOI). Xenolith enables interrupts only to block (`sti; hlt`), so the stub only has to
//! end the block: it clears `evtchn_upcall_pending` (else Xen would inject again at once), counts the
//! upcall and returns. Pending ports are served later, outside interrupt context.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use hypervisor::shared_info::SharedInfo;

/// The vector (Linux uses the same one for its Xen callback).
pub const VECTOR: u8 = 0xf3;

/// Address of vCPU 0's `evtchn_upcall_pending` byte; 0 until [`install`].
static UPCALL_FLAG: AtomicU64 = AtomicU64::new(0);
static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// Upcalls that landed on the `hlt` of `sti; hlt` (inside STI's shadow) and returned past it.
static HLT_SKIPS: AtomicU64 = AtomicU64::new(0);

global_asm!(
    r#"
    .section .text.pvh_upcall, "ax"
    .code64
    .global pvh_upcall_entry
pvh_upcall_entry:
    push rax
    mov rax, qword ptr [rip + {flag}]
    test rax, rax
    jz 2f
    mov byte ptr [rax], 0
2:  lock inc qword ptr [rip + {count}]
    /* Interrupted on the hlt of `sti; hlt` (STI's shadow not honoured)? Then the event is taken
       already: return past the hlt, or the vCPU would block with a port pending. The saved RIP is
       at [rsp + 8], above the pushed rax; iretq restores the flags this changes. */
    lea rax, [rip + {hlt}]
    cmp qword ptr [rsp + 8], rax
    jne 3f
    inc qword ptr [rsp + 8]
    lock inc qword ptr [rip + {skips}]
3:  pop rax
    iretq
    "#,
    flag = sym UPCALL_FLAG,
    count = sym UPCALLS,
    hlt = sym xen_sti_hlt_hlt,
    skips = sym HLT_SKIPS,
);

extern "C" {
    fn pvh_upcall_entry();
    /// The one-byte `hlt` of `hypervisor::sched`'s `sti; hlt` (only its address is used).
    fn xen_sti_hlt_hlt();
}

/// Points the upcall stub at `shared`'s vCPU 0 flag and installs the gate. Returns the vector to give
/// Xen. Interrupts must be disabled (they are, outside a block).
pub fn install(shared: &'static SharedInfo) -> u8 {
    UPCALL_FLAG.store(shared.upcall_pending_addr(0), Ordering::Release);
    crate::idt::set_interrupt_gate(VECTOR, pvh_upcall_entry as *const () as u64);
    VECTOR
}

/// Upcalls taken so far.
pub fn count() -> u64 {
    UPCALLS.load(Ordering::Relaxed)
}

/// Upcalls that landed on the `hlt` of `sti; hlt` and skipped it (see `hypervisor::sched::block_unless`).
pub fn hlt_skips() -> u64 {
    HLT_SKIPS.load(Ordering::Relaxed)
}
