//! The console: the PV console when running on Xen, port 0xe9 otherwise (or once the PV console
//! stalled). One lock serialises whole prints, so lines never interleave.

use core::fmt::{self, Write};

use hypervisor::emergency::Emergency;

/// Where output goes.
pub enum Sink {
    /// Port 0xe9 only: before Xen is known, outside Xen, or after the PV console failed.
    Emergency,
    #[cfg(target_os = "none")]
    Pv(hypervisor::console::xen::PvConsole),
}

static CONSOLE: spin::Mutex<Sink> = spin::Mutex::new(Sink::Emergency);

struct Locked<'a>(&'a mut Sink);

impl Write for Locked<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_to(self.0, s.as_bytes());
        Ok(())
    }
}

fn write_to(sink: &mut Sink, bytes: &[u8]) {
    match sink {
        Sink::Emergency => Emergency.write_bytes(bytes),
        #[cfg(target_os = "none")]
        Sink::Pv(pv) => {
            if let Err(e) = pv.write(bytes) {
                // Never lose output: report on the emergency console, switch to it for good, and
                // repeat the bytes there (some may also have reached the ring).
                let _ = writeln!(Emergency, "xenolith: PV console failed ({e:?}); using port 0xe9");
                Emergency.write_bytes(bytes);
                *sink = Sink::Emergency;
            }
        }
    }
}

fn end_of_output(sink: &mut Sink) {
    #[cfg(target_os = "none")]
    if let Sink::Pv(pv) = sink {
        pv.notify();
    }
    let _ = sink;
}

/// Replaces the sink (done once at start-up).
pub fn set_sink(sink: Sink) {
    *CONSOLE.lock() = sink;
}

/// Prints formatted text.
pub fn print(args: fmt::Arguments<'_>) {
    let mut sink = CONSOLE.lock();
    let _ = Locked(&mut sink).write_fmt(args);
    end_of_output(&mut sink);
}

/// Prints formatted text and a newline as one unit.
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut sink = CONSOLE.lock();
    let mut w = Locked(&mut sink);
    let _ = w.write_fmt(args);
    let _ = w.write_str("\n");
    end_of_output(&mut sink);
}

/// Waits (bounded) until the backend has consumed all output.
pub fn flush() {
    let mut sink = CONSOLE.lock();
    flush_sink(&mut sink);
}

fn flush_sink(sink: &mut Sink) {
    #[cfg(target_os = "none")]
    if let Sink::Pv(pv) = sink {
        if let Err(e) = pv.flush() {
            let _ = writeln!(Emergency, "xenolith: PV console flush failed ({e:?})");
        }
    }
    let _ = sink;
}

/// Runs `f` with the console for a crash report: takes the lock if it is free; if it is held (the
/// crash happened while printing), takes the ring over afresh, since the holder never resumes.
pub fn with_crash_console(f: impl FnOnce(&mut dyn Write)) {
    match CONSOLE.try_lock() {
        Some(mut sink) => {
            f(&mut Locked(&mut sink));
            end_of_output(&mut sink);
            flush_sink(&mut sink);
        }
        None => {
            let mut sink = fresh_sink();
            f(&mut Locked(&mut sink));
            end_of_output(&mut sink);
            flush_sink(&mut sink);
        }
    }
}

fn fresh_sink() -> Sink {
    #[cfg(target_os = "none")]
    if let Ok(xen) = hypervisor::hypercall::Xen::init() {
        if let Ok(pv) = hypervisor::console::xen::PvConsole::open(xen) {
            return Sink::Pv(pv);
        }
    }
    Sink::Emergency
}

/// Whether output goes to the PV console (without waiting for the lock: for crash paths).
pub fn is_pv_unlocked() -> bool {
    CONSOLE.try_lock().map(|s| !matches!(*s, Sink::Emergency)).unwrap_or(true)
}
