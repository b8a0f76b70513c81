//! Last-resort stops used by pvh-boot itself (no handler installed, nested exception, boot failure):
//! the emergency console, then `SCHEDOP_shutdown(crash)` on Xen, or QEMU's debug-exit elsewhere.

use core::fmt::Write;

use hypervisor::emergency::{qemu_debug_exit, Emergency};
use hypervisor::hypercall::Xen;
use hypervisor::sched::{halt_forever, ShutdownReason};

use crate::exception::{ExceptionFrame, ExceptionReport};

/// QEMU exit code (`(3 << 1) | 1` = 7) for a crash when not on Xen.
pub const QEMU_CRASH_CODE: u8 = 3;

/// Shuts the domain down with reason `crash` (or ends QEMU). Never returns.
pub fn crash() -> ! {
    match Xen::init() {
        Ok(xen) => xen.shutdown(ShutdownReason::Crash),
        Err(_) => {
            qemu_debug_exit(QEMU_CRASH_CODE);
            halt_forever()
        }
    }
}

pub(crate) fn report_and_crash(report: &ExceptionReport) -> ! {
    let _ = write!(Emergency, "{report}");
    crash()
}

pub(crate) fn nested(frame: &ExceptionFrame, cr2: u64) -> ! {
    let _ = writeln!(
        Emergency,
        "EXCEPTION {} while handling an exception: RIP {:#x} RSP {:#x} CR2 {:#x} error code {:#x}",
        frame.vector, frame.rip, frame.rsp, cr2, frame.error_code
    );
    crash()
}
