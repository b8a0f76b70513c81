//! The IDT for the 32 CPU exceptions: per-vector stubs (pushing a dummy error code where the CPU pushes
//! none, then the vector), a common stub saving the general registers into an [`ExceptionFrame`], and
//! the dispatch to the registered handler. Every gate runs on an IST stack, so a fault on a broken stack
//! still gets reported. One external interrupt exists: the event channel upcall (`upcall.rs`), through
//! [`set_interrupt_gate`]; interrupts are enabled only while blocking.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::exception::{walk_stack, ExceptionFrame, ExceptionReport, MAX_FRAMES};
use crate::gdt::{IST_DOUBLE_FAULT, IST_EXCEPTION, IST_NMI_MC, KERNEL_CS};

global_asm!(
    r#"
    .section .text.pvh_exceptions, "ax"
    .code64
    .irp vec, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
pvh_exc_\vec:
    push 0
    push \vec
    jmp pvh_exc_common
    .endr
    .irp vec, 8,10,11,12,13,14,17,21,29,30
pvh_exc_\vec:
    push \vec
    jmp pvh_exc_common
    .endr

pvh_exc_common:
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    mov rdi, rsp
    cld
    call pvh_exception_dispatch
    ud2

    .section .rodata.pvh_exc_table, "a"
    .balign 8
    .global pvh_exc_table
pvh_exc_table:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad pvh_exc_\vec
    .endr
    "#
);

extern "C" {
    static pvh_exc_table: [u64; 32];
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// All 256 vectors: 0..32 exceptions, the event channel upcall (see `upcall.rs`); the rest stay
/// not-present, so a stray interrupt is reported as #NP instead of running garbage.
struct Idt(UnsafeCell<[Gate; 256]>);

// SAFETY: written once by `init` on the boot CPU before exceptions can use it; afterwards only the CPU
// reads it.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new(
    [Gate { offset_low: 0, selector: 0, ist: 0, attributes: 0, offset_mid: 0, offset_high: 0, reserved: 0 }; 256],
));

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Fills and loads the IDT. Call once on the boot CPU after `gdt::init`.
pub fn init() {
    // SAFETY: `pvh_exc_table` is 32 stub addresses in .rodata (assembly above), never written.
    let stubs = unsafe { pvh_exc_table };
    // SAFETY: boot-time, single CPU, interrupts disabled: nothing else reads the IDT yet.
    let idt = unsafe { &mut *IDT.0.get() };
    for (vector, (gate, &stub)) in idt.iter_mut().take(32).zip(stubs.iter()).enumerate() {
        let ist = match vector {
            2 | 18 => IST_NMI_MC,
            8 => IST_DOUBLE_FAULT,
            _ => IST_EXCEPTION,
        };
        *gate = Gate {
            offset_low: stub as u16,
            selector: KERNEL_CS,
            ist,
            attributes: 0x8e, // present, DPL 0, 64-bit interrupt gate
            offset_mid: (stub >> 16) as u16,
            offset_high: (stub >> 32) as u32,
            reserved: 0,
        };
    }
    let ptr = Pointer { limit: (256 * 16 - 1) as u16, base: IDT.0.get() as u64 };
    // SAFETY: the IDT is filled with gates to the stubs above, which stay mapped forever.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags)) };
}

/// Installs a 64-bit interrupt gate (IF cleared on entry, current stack: the target has no red zone)
/// for external interrupt `vector` (>= 32). Call with interrupts disabled.
pub fn set_interrupt_gate(vector: u8, handler: u64) {
    assert!(vector >= 32, "vectors below 32 are exceptions (our bug)");
    let gate = Gate {
        offset_low: handler as u16,
        selector: KERNEL_CS,
        ist: 0,
        attributes: 0x8e,
        offset_mid: (handler >> 16) as u16,
        offset_high: (handler >> 32) as u32,
        reserved: 0,
    };
    // SAFETY: single vCPU with interrupts disabled, so the CPU does not read this gate while it is
    // written; the IDT is a static that lives forever; the index is < 256.
    unsafe { core::ptr::addr_of_mut!((*IDT.0.get())[vector as usize]).write_volatile(gate) };
}

/// What runs after an exception has been decoded. Must not return (the faulting code cannot resume).
pub type Handler = fn(&ExceptionReport) -> !;

static HANDLER: AtomicUsize = AtomicUsize::new(0);
static IN_HANDLER: AtomicBool = AtomicBool::new(false);

/// Installs the exception handler (the framework's: report on the console, then shut down `crash`).
pub fn set_handler(handler: Handler) {
    HANDLER.store(handler as usize, Ordering::Release);
}

fn read_cr2() -> u64 {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    cr2
}

#[no_mangle]
extern "C" fn pvh_exception_dispatch(frame: *const ExceptionFrame) -> ! {
    let cr2 = read_cr2();
    // SAFETY: `frame` points at the ExceptionFrame the common stub just pushed on this IST stack; it is
    // only read, and stays valid because this function never returns.
    let frame = unsafe { frame.read() };
    if IN_HANDLER.swap(true, Ordering::AcqRel) {
        // An exception while reporting one: report the bare minimum on the emergency console and stop.
        crate::stop::nested(&frame, cr2);
    }
    let stack = crate::entry::boot_stack();
    let mut trace = [0; MAX_FRAMES];
    let trace_len = walk_stack(
        frame.rbp,
        stack,
        // SAFETY: walk_stack only asks for 8-byte-aligned addresses inside the boot stack, which is
        // mapped .bss memory of this image.
        |addr| unsafe { (addr as *const u64).read_volatile() },
        &mut trace,
    );
    let recent = crate::flight::Recent::capture();
    let report = ExceptionReport { frame, cr2, trace, trace_len, recent };
    match HANDLER.load(Ordering::Acquire) {
        0 => crate::stop::report_and_crash(&report),
        h => {
            // SAFETY: the only non-zero value ever stored is a `Handler` fn pointer (`set_handler`).
            let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(h) };
            handler(&report)
        }
    }
}
