//! From boot to the application's `main` and back: install the crash handler, find Xen, open the PV
//! console, check the start info, run `main`, power off.

use core::fmt::Write;

use hypervisor::emergency::Emergency;
use pvh_boot::Boot;

use crate::context::Context;
#[cfg(target_os = "none")]
use crate::context::Version;
use crate::power;

/// Called by the code `xenolith::main_sync!` generates.
pub fn start(boot: Boot, main: fn(&Context)) -> ! {
    let ctx = prepare(boot);
    main(&ctx);
    power::poweroff()
}

/// What an async `main` may return: `()`, or `Result<(), E>` with a printable error.
pub trait MainOutput {
    /// Prints an error, if any; returns whether `main` succeeded.
    fn report(self) -> bool;
}

impl MainOutput for () {
    fn report(self) -> bool {
        true
    }
}

impl<E: core::fmt::Display> MainOutput for Result<(), E> {
    fn report(self) -> bool {
        match self {
            Ok(()) => true,
            Err(e) => {
                crate::println!("xenolith: main returned an error: {e}");
                false
            }
        }
    }
}

/// Called by the code `#[xenolith::main]` generates: brings up the Xen services, runs `main` on the
/// executor; powers off when it returns `()`/`Ok`, crashes the domain on `Err` (and on panic).
#[cfg(all(target_os = "none", feature = "executor"))]
pub fn start_async<F, Fut>(boot: Boot, main: F) -> !
where
    F: FnOnce(Context) -> Fut,
    Fut: core::future::Future,
    Fut::Output: MainOutput,
{
    let ctx = prepare(boot);
    let platform = match crate::xen::XenPlatform::new() {
        Ok(p) => p,
        Err(e) => {
            crate::println!("xenolith: cannot run the executor: {e}");
            power::shutdown(power::Reason::Crash);
        }
    };
    let app = async move {
        // The xenstore client is `!Send`: its driver and the control task run as local tasks next to
        // `main`, inside the main task.
        let local = crate::executor::LocalSet::new();
        let mut ctx = ctx;
        start_xenstore(&local, &mut ctx);
        local.run_until(boxed(main, ctx)).await
    };
    if crate::executor::run(platform, app).report() {
        // After `xl reboot` (and a graceful return) the domain ends with reason reboot.
        let reason = crate::control::CONTROL.final_reason();
        if let (Some(at), Ok(now)) = (crate::control::CONTROL.requested_at_ns(), crate::xen::now_ns()) {
            crate::println!("xenolith: stopping ({reason:?}) {} ms after the request arrived", now.saturating_sub(at) / 1_000_000);
        }
        power::shutdown(reason)
    } else {
        power::shutdown(power::Reason::Crash)
    }
}

/// Opens xenstore and starts its driver and the control task in `local`; without xenstore the
/// application still runs (it only cannot be stopped through `xl shutdown`).
/// The application's future, on the heap. An `async fn main` that holds large buffers or awaits deep
/// futures can be tens of KiB; kept inline, it would live in the executor's frames on the boot stack
/// (128 KiB) for the program's life. Made here, in a frame of its own that is gone once it returns, the
/// only copy on the stack is the transient one `Box::pin` moves from.
#[cfg(all(target_os = "none", feature = "executor"))]
#[inline(never)]
fn boxed<F, Fut>(main: F, ctx: Context) -> core::pin::Pin<alloc::boxed::Box<Fut>>
where
    F: FnOnce(Context) -> Fut,
    Fut: core::future::Future,
{
    alloc::boxed::Box::pin(main(ctx))
}

#[cfg(all(target_os = "none", feature = "executor"))]
fn start_xenstore(local: &crate::executor::LocalSet, ctx: &mut Context) {
    let xs = match crate::xenstore::connect() {
        Ok(xs) => xs,
        Err(e) => {
            crate::println!("xenolith: no xenstore: {e}");
            return;
        }
    };
    let driver = xs.clone();
    drop(local.spawn(async move { crate::xenstore::drive(&driver).await }));
    let control = xs.clone();
    drop(local.spawn(async move {
        let served = crate::control::serve(&control, &crate::control::CONTROL, crate::control::GRACE, |r| {
            power::shutdown(r)
        });
        if let Err(e) = served.await {
            crate::println!("xenolith: control task ended: {e}; xl shutdown will not reach this domain");
        }
    }));
    match crate::monitor::period(ctx.cmdline()) {
        Ok(None) => {}
        Ok(Some(period)) => {
            let monitor = xs.clone();
            let start = crate::executor::Instant::now();
            drop(local.spawn(async move {
                let published = crate::monitor::publish(&monitor, period, || crate::monitor::sample(start));
                if let Err(e) = published.await {
                    crate::println!("xenolith: monitoring stopped: xenstore refused a write ({e:?})");
                }
            }));
        }
        Err(e) => crate::println!("xenolith: {e}; monitoring is off"),
    }
    ctx.set_xenstore(xs);
}

/// Everything before `main`: the crash handler, Xen and the console, the checked start info.
fn prepare(boot: Boot) -> Context {
    #[cfg(target_os = "none")]
    pvh_boot::idt::set_handler(crate::crash::on_exception);

    let xen_version = platform_init();

    let start_info = match boot.start_info {
        Ok(info) => info,
        Err(e) => {
            crate::println!("xenolith: bad start info at {:#x}: {e}", boot.start_info_paddr);
            power::shutdown(power::Reason::Crash);
        }
    };
    if boot.high_ram.unmapped_bytes != 0 {
        crate::println!("xenolith: {} bytes of RAM above 4 GiB left unmapped", boot.high_ram.unmapped_bytes);
    }
    if !boot.stack_guard {
        crate::println!("xenolith: image extends beyond 2 MiB: no stack guard page");
    }
    Context::new(start_info, xen_version, boot.high_ram.mapped_bytes)
}

/// Finds Xen and opens the PV console; returns Xen's version.
#[cfg(target_os = "none")]
fn platform_init() -> Option<Version> {
    use hypervisor::console::xen::PvConsole;
    use hypervisor::hypercall::{InitError, Xen};
    match Xen::init() {
        Ok(xen) => {
            match PvConsole::open(xen) {
                Ok(pv) => crate::console::set_sink(crate::console::Sink::Pv(pv)),
                Err(e) => {
                    let _ = writeln!(Emergency, "xenolith: no PV console ({e:?}); using port 0xe9");
                }
            }
            let v = xen.version();
            Some(Version::new(v.major, v.minor, v.extra()))
        }
        Err(InitError::NotXen) => {
            let _ = writeln!(Emergency, "xenolith: not running on Xen (no XenVMMXenVMM CPUID leaf): console on port 0xe9, no hypercalls");
            None
        }
        Err(e) => {
            let _ = writeln!(Emergency, "xenolith: Xen unusable ({e:?}): console on port 0xe9");
            None
        }
    }
}

#[cfg(not(target_os = "none"))]
fn platform_init() -> Option<crate::context::Version> {
    let _ = writeln!(Emergency, "xenolith: host build, no platform");
    None
}
