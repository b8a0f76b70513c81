//! From boot to the application's `main` and back: install the crash handler, find Xen, open the PV
//! console, check the start info, run `main`, power off.

use core::fmt::Write;

use hypervisor::emergency::Emergency;
use pvh_boot::Boot;

use crate::context::Context;
#[cfg(target_os = "none")]
use crate::context::Version;
use crate::power;

/// Called by the code `xenolith::main!` generates.
pub fn start(boot: Boot, main: fn(&Context)) -> ! {
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
    let ctx = Context::new(start_info, xen_version, boot.high_ram.mapped_bytes);
    main(&ctx);
    power::poweroff()
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
