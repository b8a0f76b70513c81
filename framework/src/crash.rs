//! Crash reporting: CPU exceptions (decoded by pvh-boot) and panics are printed on the console, which
//! is flushed, and the domain is shut down with reason `crash`, so `xl` and `on_crash=` see a crash.

use core::fmt::Write;

use pvh_boot::ExceptionReport;

use crate::console;
use crate::power::{stop, Reason};

/// The exception handler installed at start-up.
pub fn on_exception(report: &ExceptionReport) -> ! {
    console::with_crash_console(|w| {
        let _ = write!(w, "{report}");
        let _ = writeln!(w, "xenolith: crashed, shutting down with reason crash");
    });
    // Keep a copy on Xen's own console too (`(dN) ...` lines), in case the PV console is broken.
    if console::is_pv_unlocked() {
        let _ = write!(hypervisor::emergency::Emergency, "{report}");
    }
    stop(Reason::Crash)
}

/// The panic path: message and location, then crash.
pub fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::with_crash_console(|w| {
        match info.location() {
            Some(l) => {
                let _ = writeln!(w, "PANIC at {}:{}:{}: {}", l.file(), l.line(), l.column(), info.message());
            }
            None => {
                let _ = writeln!(w, "PANIC: {}", info.message());
            }
        }
        let _ = writeln!(w, "xenolith: crashed, shutting down with reason crash");
    });
    stop(Reason::Crash)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    on_panic(info)
}
