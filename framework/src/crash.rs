//! Crash reporting: CPU exceptions (decoded by pvh-boot) and panics are printed on the console, which
//! is flushed, and the domain is shut down with reason `crash`, so `xl` and `on_crash=` see a crash.
//! Both reports end with the flight recorder's recent events ([`pvh_boot::flight`]): what the domain
//! did just before.

use core::fmt::{self, Write};

use pvh_boot::flight::Recent;
use pvh_boot::ExceptionReport;

use crate::console;
use crate::power::{stop, Reason};

/// The exception handler installed at start-up. The report carries the recent events already (taken
/// when the exception was).
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

/// The panic path: message and location, the recent events, then crash.
pub fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let recent = recent_events();
    console::with_crash_console(|w| {
        let _ = write_panic_report(w, info.location(), info.message(), &recent);
        let _ = writeln!(w, "xenolith: crashed, shutting down with reason crash");
    });
    stop(Reason::Crash)
}

/// The panic report: `PANIC at FILE:LINE:COL: MESSAGE` (or `PANIC: MESSAGE`), then the recent events.
fn write_panic_report(
    w: &mut (impl Write + ?Sized),
    location: Option<&core::panic::Location<'_>>,
    message: impl fmt::Display,
    recent: &Recent,
) -> fmt::Result {
    match location {
        Some(l) => writeln!(w, "PANIC at {}:{}:{}: {}", l.file(), l.line(), l.column(), message)?,
        None => writeln!(w, "PANIC: {message}")?,
    }
    write!(w, "{recent}")
}

/// The flight recorder now.
fn recent_events() -> Recent {
    #[cfg(target_os = "none")]
    return Recent::capture();
    #[cfg(not(target_os = "none"))]
    Recent::capture_with(None)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    on_panic(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use pvh_boot::flight::{Event, Kind};

    #[test]
    fn panic_report_ends_with_the_recent_events() {
        let mut recent = Recent::empty();
        recent.events[0] = Event { seq: 3, tsc: 2_000_000, kind: Kind::Event as u16, a: 5, b: 0 };
        recent.events[1] = Event { seq: 4, tsc: 2_500_000, kind: Kind::App as u16, a: 1, b: 42 };
        (recent.len, recent.total, recent.now_tsc, recent.tsc_khz) = (2, 5, 3_000_000, Some(1_000_000));
        let mut out = String::new();
        write_panic_report(&mut out, Some(core::panic::Location::caller()), "boom", &recent).unwrap();
        let lines: alloc::vec::Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("PANIC at framework/src/crash.rs:") && lines[0].ends_with(": boom"), "{out}");
        assert_eq!(lines[1], "  recent events (oldest first; seconds before this report), 3 older ones overwritten:");
        assert_eq!(lines[2], "    seq 3     -0.001000 s  evtchn port=5");
        assert_eq!(lines[3], "    seq 4     -0.000500 s  app code=1 value=42");
        assert_eq!(lines.len(), 4);

        let mut out = String::new();
        write_panic_report(&mut out, None, "boom", &Recent::empty()).unwrap();
        assert_eq!(out, "PANIC: boom\n  recent events: none recorded\n");
    }

    #[test]
    fn trace_lands_in_the_recorder() {
        crate::trace(7, 77);
        let mut found = false;
        pvh_boot::flight::RECORDER.for_each_recent(|e| found |= e.kind == Kind::App as u16 && e.a == 7 && e.b == 77);
        assert!(found);
    }
}
